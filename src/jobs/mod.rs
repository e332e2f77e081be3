//! Work off the UI thread: named worker threads, bounded channels, cancel flags and progress
//! events. The repaint hook is a plain closure, so nothing here needs egui.
//!
//! Belongs here: starting and cancelling jobs (decode a file, probe devices, later: poison,
//! train, export) and the event types they send. Depends on `core`, `media`, `train`, `gpu`.

pub mod experiment;
pub mod load;
pub mod player;
pub mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Called by a worker after it sends an event, so the UI wakes up and drains the channel.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// A no-op repaint hook, for headless callers and tests.
pub fn no_repaint() -> Repaint {
    Arc::new(|| {})
}

/// Starts a named thread; every worker has a name so panics and profiles say which job it was.
pub fn spawn_named<T, F>(name: impl Into<String>, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new().name(name.into()).spawn(f)
}

/// A shared stop request, checked by workers between units of work.
#[derive(Clone, Debug, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag shared with code that watches a plain `AtomicBool` (the trainer).
    pub fn from_shared(flag: Arc<AtomicBool>) -> Self {
        CancelFlag(flag)
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The UI's handle on a running job: its events and its cancel flag. Dropping it cancels the job.
pub struct Job<E> {
    pub name: String,
    events: Receiver<E>,
    cancel: CancelFlag,
    done: Arc<AtomicBool>,
}

impl<E> Job<E> {
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Non-blocking: the next event if one is waiting.
    pub fn try_recv(&self) -> Option<E> {
        self.events.try_recv().ok()
    }

    /// Blocking, for headless callers: the next event, or `None` once the worker is gone.
    pub fn recv(&self) -> Option<E> {
        self.events.recv().ok()
    }

    /// True once the worker has returned. Read it *before* a `try_recv` that comes back empty:
    /// then nothing more will arrive.
    pub fn worker_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl<E> Drop for Job<E> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The worker's side: sends events (blocking while the bounded queue is full, which is the
/// back-pressure that keeps memory flat) and wakes the UI.
pub struct Sender<E> {
    tx: SyncSender<E>,
    cancel: CancelFlag,
    repaint: Repaint,
}

impl<E> Sender<E> {
    /// Returns `false` when the job was cancelled or the UI dropped its end: stop working.
    pub fn send(&self, event: E) -> bool {
        let mut event = event;
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            // Short waits instead of a blocking send, so a cancel is noticed even while full.
            match self.tx.try_send(event) {
                Ok(()) => {
                    (self.repaint)();
                    return true;
                }
                Err(TrySendError::Full(e)) => {
                    event = e;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Starts `work` on a named thread with a channel of `capacity` events back to the caller.
pub fn start<E, F>(
    name: impl Into<String>,
    capacity: usize,
    repaint: Repaint,
    work: F,
) -> std::io::Result<Job<E>>
where
    E: Send + 'static,
    F: FnOnce(Sender<E>) + Send + 'static,
{
    let name = name.into();
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
    let cancel = CancelFlag::default();
    let sender = Sender {
        tx,
        cancel: cancel.clone(),
        repaint,
    };
    let done = Arc::new(AtomicBool::new(false));
    let worker_done = done.clone();
    spawn_named(name.clone(), move || {
        work(sender);
        worker_done.store(true, Ordering::Release);
    })?;
    Ok(Job {
        name,
        events: rx,
        cancel,
        done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn events_arrive_in_order_on_a_named_thread_and_wake_the_ui() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let job = start(
            "test-job",
            2,
            Arc::new(move || {
                w.fetch_add(1, Ordering::Relaxed);
            }),
            |tx| {
                let name = std::thread::current().name().map(str::to_owned);
                tx.send(name.unwrap_or_default());
                for i in 0..5 {
                    tx.send(i.to_string());
                }
            },
        )
        .expect("spawn");
        let got: Vec<String> = std::iter::from_fn(|| job.recv()).collect();
        assert_eq!(got, ["test-job", "0", "1", "2", "3", "4"]);
        assert_eq!(wakes.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn cancel_stops_a_worker_blocked_on_a_full_queue() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let job = start("flood", 1, no_repaint(), move |tx| {
            let mut sent = 0;
            while tx.send(sent) {
                sent += 1;
            }
            done_tx.send(sent).expect("report");
        })
        .expect("spawn");
        assert_eq!(job.recv(), Some(0));
        job.cancel();
        let sent = done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("worker stopped after cancel");
        // Queue of 1: it cannot have raced far ahead of the one event we read.
        assert!(sent <= 3, "sent {sent}");
    }
}
