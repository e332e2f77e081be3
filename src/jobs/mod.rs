//! Work off the UI thread: named worker threads, bounded channels, cancel flags and progress
//! events. The repaint hook is a plain closure, so nothing here needs egui.
//!
//! Belongs here: starting and cancelling jobs (decode a file, probe devices, later: poison,
//! train, export) and the event types they send. Depends on `core`, `media`, `train`, `gpu`.

pub mod audio_view;
pub mod experiment;
pub mod export;
pub mod lens;
pub mod library;
pub mod load;
pub mod player;
pub mod preview;
pub mod project;
pub mod runs;
pub mod stream;
pub mod thumbs;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// A bounded queue between one worker and the UI. Unlike `std::sync::mpsc::SyncSender`, a
/// sender blocked on a full queue wakes as soon as the job is cancelled or its handle dropped.
struct Channel<E> {
    state: Mutex<ChannelState<E>>,
    /// Signalled when an event is taken, the job is cancelled or the receiver goes.
    not_full: Condvar,
    /// Signalled when an event arrives or the sender goes.
    not_empty: Condvar,
    capacity: usize,
}

struct ChannelState<E> {
    queue: VecDeque<E>,
    sender_alive: bool,
    receiver_alive: bool,
}

impl<E> Channel<E> {
    fn lock(&self) -> MutexGuard<'_, ChannelState<E>> {
        // Nothing panics while holding the lock, so poisoning cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A blocked sender also wakes this often to look at a cancel flag set by someone who could not
/// signal the channel (a flag shared with the trainer, say). Nothing polls faster than this.
const CANCEL_RECHECK: Duration = Duration::from_secs(1);

/// The UI's handle on a running job: its events and its cancel flag. Dropping it cancels the job.
pub struct Job<E> {
    pub name: String,
    events: Arc<Channel<E>>,
    cancel: CancelFlag,
    done: Arc<AtomicBool>,
}

impl<E> Job<E> {
    pub fn cancel(&self) {
        self.cancel.cancel();
        let _guard = self.events.lock();
        self.events.not_full.notify_all();
    }

    /// Non-blocking: the next event if one is waiting.
    pub fn try_recv(&self) -> Option<E> {
        let mut st = self.events.lock();
        let ev = st.queue.pop_front();
        if ev.is_some() {
            self.events.not_full.notify_one();
        }
        ev
    }

    /// Blocking, for headless callers: the next event, or `None` once the worker is gone.
    pub fn recv(&self) -> Option<E> {
        let mut st = self.events.lock();
        loop {
            if let Some(ev) = st.queue.pop_front() {
                self.events.not_full.notify_one();
                return Some(ev);
            }
            if !st.sender_alive {
                return None;
            }
            st = self
                .events
                .not_empty
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// How many events are waiting (never more than the job's capacity).
    pub fn queued(&self) -> usize {
        self.events.lock().queue.len()
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
        let mut st = self.events.lock();
        st.receiver_alive = false;
        st.queue.clear();
        self.events.not_full.notify_all();
    }
}

/// The worker's side: sends events (blocking while the bounded queue is full, which is the
/// back-pressure that keeps memory flat) and wakes the UI.
pub struct Sender<E> {
    events: Arc<Channel<E>>,
    cancel: CancelFlag,
    repaint: Repaint,
}

impl<E> Sender<E> {
    /// Returns `false` when the job was cancelled or the UI dropped its end: stop working.
    /// While the queue is full it sleeps on a condition variable, not in a polling loop.
    pub fn send(&self, event: E) -> bool {
        let mut st = self.events.lock();
        loop {
            if self.cancel.is_cancelled() || !st.receiver_alive {
                return false;
            }
            if st.queue.len() < self.events.capacity {
                st.queue.push_back(event);
                self.events.not_empty.notify_one();
                drop(st);
                (self.repaint)();
                return true;
            }
            st = self
                .events
                .not_full
                .wait_timeout(st, CANCEL_RECHECK)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl<E> Drop for Sender<E> {
    fn drop(&mut self) {
        self.events.lock().sender_alive = false;
        self.events.not_empty.notify_all();
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
    let events = Arc::new(Channel {
        state: Mutex::new(ChannelState {
            queue: VecDeque::new(),
            sender_alive: true,
            receiver_alive: true,
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
        capacity: capacity.max(1),
    });
    let cancel = CancelFlag::default();
    let sender = Sender {
        events: events.clone(),
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
        events,
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

    #[test]
    fn a_sender_blocked_on_a_full_queue_resumes_when_an_event_is_taken() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let a = attempts.clone();
        let job = start("blocked", 1, no_repaint(), move |tx| {
            for i in 0..3 {
                a.fetch_add(1, Ordering::Relaxed);
                if !tx.send(i) {
                    return;
                }
            }
        })
        .expect("spawn");
        // Queue full with event 0; the worker is blocked sending 1, and stays blocked.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while attempts.load(Ordering::Relaxed) < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(job.queued(), 1);
        assert_eq!(attempts.load(Ordering::Relaxed), 2);
        assert_eq!(job.try_recv(), Some(0));
        assert_eq!(job.recv(), Some(1));
        assert_eq!(job.recv(), Some(2));
        assert_eq!(job.recv(), None, "the worker is gone");
    }

    #[test]
    fn a_cancel_wakes_a_blocked_sender_at_once() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let job = start("flood", 1, no_repaint(), move |tx| {
            while tx.send(()) {}
            done_tx.send(std::time::Instant::now()).expect("report");
        })
        .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let t = std::time::Instant::now();
        job.cancel();
        let stopped = done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("worker stopped after cancel");
        assert!(
            stopped.duration_since(t) < CANCEL_RECHECK,
            "woken by the cancel, not the recheck"
        );
    }
}
