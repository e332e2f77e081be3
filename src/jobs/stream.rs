//! Streaming a video file for playback: a named decoder thread sends frames through a bounded
//! channel (so it runs only a few frames ahead and memory stays flat however long the film) and
//! takes seek commands. Frames carry the epoch of the last seek, so stale ones are dropped.

use super::{Job, Repaint, start};
use crate::core::{Frame, Rational};
use crate::media::reader::{SizeMode, VideoReader};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

#[derive(Debug)]
pub enum StreamEvent {
    Opened {
        fps: Rational,
        width: u32,
        height: u32,
        duration_secs: Option<f64>,
    },
    Frame {
        epoch: u64,
        time: Rational,
        frame: Frame,
    },
    /// No more frames until the next seek.
    End {
        epoch: u64,
    },
    Failed(String),
}

/// A seek request: the epoch it starts and where to.
type Seek = (u64, Rational);

/// A running stream: its events and a way to seek it.
pub struct VideoStream {
    pub job: Job<StreamEvent>,
    seek: Sender<Seek>,
    epoch: u64,
}

impl VideoStream {
    /// Asks the decoder to continue from `time`; returns the epoch its frames will carry.
    pub fn seek(&mut self, time: Rational) -> u64 {
        self.epoch += 1;
        let _ = self.seek.send((self.epoch, time)); // the worker is gone only if it failed, which it reported
        self.epoch
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// Frames this many at a time: enough for smooth playback, small enough to bound memory.
pub const QUEUE_FRAMES: usize = 6;

pub fn open_stream(
    path: PathBuf,
    size: SizeMode,
    repaint: Repaint,
) -> std::io::Result<VideoStream> {
    let name = format!(
        "stream:{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let (seek_tx, seek_rx): (Sender<Seek>, Receiver<Seek>) = channel();
    let job = start(name, QUEUE_FRAMES, repaint, move |tx| {
        let mut reader = match VideoReader::open(&path, size) {
            Ok(r) => r,
            Err(e) => {
                tx.send(StreamEvent::Failed(e.to_string()));
                return;
            }
        };
        let (width, height) = reader.output_size();
        if !tx.send(StreamEvent::Opened {
            fps: reader.fps(),
            width,
            height,
            duration_secs: reader.duration_secs(),
        }) {
            return;
        }
        let mut epoch = 0u64;
        let mut ended = false;
        loop {
            // Latest seek wins; while at the end, wait for one.
            let cmd = if ended {
                match seek_rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            } else {
                match seek_rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return,
                }
            };
            if let Some(mut c) = cmd {
                while let Ok(newer) = seek_rx.try_recv() {
                    c = newer;
                }
                epoch = c.0;
                if let Err(e) = reader.seek(c.1) {
                    tx.send(StreamEvent::Failed(e.to_string()));
                    return;
                }
                ended = false;
            }
            match reader.next_frame() {
                Ok(Some((time, frame))) => {
                    if !tx.send(StreamEvent::Frame { epoch, time, frame }) {
                        return;
                    }
                }
                Ok(None) => {
                    ended = true;
                    if !tx.send(StreamEvent::End { epoch }) {
                        return;
                    }
                }
                Err(e) => {
                    tx.send(StreamEvent::Failed(e.to_string()));
                    return;
                }
            }
        }
    })?;
    Ok(VideoStream {
        job,
        seek: seek_tx,
        epoch: 0,
    })
}
