//! FFmpeg's log, routed into `tracing` (target `ffmpeg`) instead of raw stderr, and the last
//! error line kept for the thread that opened the file, so [`super::MediaError`] can say what
//! FFmpeg actually objected to.
//!
//! Attribution: FFmpeg decodes with its own frame and slice threads, and those log too. Each of
//! our threads that opens media gets a *tag*; decoder contexts it opens carry the tag in their
//! `opaque` field (FFmpeg copies it into every frame-thread context), so a line logged from any
//! thread for that decoder lands with the thread that owns it. Lines without a tagged decoder
//! (demuxers, which run on the opening thread) go to the logging thread's own tag, if it has one.
//!
//! This is the one module that needs FFI: FFmpeg hands its callback a C `va_list`, which only
//! FFmpeg's own formatter can expand. `unsafe_code` is denied everywhere else.
#![allow(unsafe_code)]

use ffmpeg_next::ffi;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one owning thread has seen logged since it last looked.
#[derive(Default)]
struct Capture {
    last_error: Option<String>,
    errors: u64,
}

/// Captures by owner tag. A `BTreeMap` because its `new` is `const`.
static CAPTURES: Mutex<BTreeMap<u64, Capture>> = Mutex::new(BTreeMap::new());
/// Tags are never reused, so a late line for a thread that has gone is simply dropped.
static NEXT_TAG: AtomicU64 = AtomicU64::new(1);

/// Removes the thread's capture when the thread exits.
struct Owner(u64);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Ok(mut m) = CAPTURES.lock() {
            m.remove(&self.0);
        }
    }
}

thread_local! {
    /// This thread's tag, 0 until it first opens media (FFmpeg's own threads never get one).
    static TAG: Cell<u64> = const { Cell::new(0) };
    static OWNER: Owner = {
        let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = CAPTURES.lock() {
            m.insert(tag, Capture::default());
        }
        TAG.with(|t| t.set(tag));
        Owner(tag)
    };
}

/// This thread's tag, registering it on first use (0 only during thread teardown).
fn own_tag() -> u64 {
    OWNER.try_with(|o| o.0).unwrap_or(0)
}

fn with_capture<R>(tag: u64, f: impl FnOnce(&mut Capture) -> R) -> Option<R> {
    let mut m = CAPTURES.lock().ok()?;
    m.get_mut(&tag).map(f)
}

/// How many error-level FFmpeg messages were logged for this thread so far. Some failures (a
/// truncated MP4's "partial file") surface only in the log: the demuxer itself returns EOF.
pub(crate) fn errors_logged() -> u64 {
    with_capture(own_tag(), |c| c.errors).unwrap_or(0)
}

/// The last error-level FFmpeg message logged for this thread since the previous call.
pub(crate) fn take_last_error() -> Option<String> {
    with_capture(own_tag(), |c| c.last_error.take()).flatten()
}

/// Marks a decoder context as this thread's, so its frame threads' errors come back here. Call
/// before the decoder is opened: FFmpeg copies `opaque` into the frame-thread contexts it makes.
pub(crate) fn tag_decoder(ctx: &mut ffmpeg_next::codec::context::Context) {
    let tag = own_tag();
    // SAFETY: `as_mut_ptr` is the live AVCodecContext this `&mut` borrow owns; writing one plain
    // field of it cannot race (we hold the only reference) and FFmpeg never reads `opaque`
    // itself beyond copying it, so any value is valid.
    unsafe {
        (*ctx.as_mut_ptr()).opaque = tag as usize as *mut c_void;
    }
}

/// The tag of the thread that owns the object `avcl` belongs to, if it is a tagged decoder.
///
/// # Safety
/// `avcl` is null or what FFmpeg passes to a log callback: a pointer to a live struct whose
/// first field is a `*const AVClass` (av_log's documented contract).
unsafe fn decoder_tag(avcl: *mut c_void) -> Option<u64> {
    if avcl.is_null() {
        return None;
    }
    // SAFETY: per the contract above, `avcl` points to a struct starting with an AVClass pointer.
    let class = unsafe { *(avcl as *const *const ffi::AVClass) };
    // SAFETY: avcodec_get_class has no preconditions; it returns a static.
    if class.is_null() || class != unsafe { ffi::avcodec_get_class() } {
        return None;
    }
    // SAFETY: objects of the codec class are AVCodecContexts; `opaque` is written only before
    // the decoder opens (tag_decoder), never while FFmpeg's threads run.
    let tag = unsafe { (*(avcl as *const ffi::AVCodecContext)).opaque } as usize as u64;
    (tag != 0).then_some(tag)
}

/// How FFmpeg's bindings spell the callback's `va_list` parameter on this target: where C's
/// `va_list` is an array (the System V x86-64 ABI, PowerPC64, s390x) the parameter decays to a
/// pointer to its element; elsewhere (AArch64, Windows, 32-bit x86, …) it is `va_list` itself.
/// A wrong choice cannot call with a mismatched type: `av_log_set_callback(Some(log_callback))`
/// would not compile.
#[cfg(any(
    all(target_arch = "x86_64", not(windows)),
    target_arch = "powerpc64",
    target_arch = "s390x"
))]
type VaListArg = *mut ffi::__va_list_tag;
#[cfg(not(any(
    all(target_arch = "x86_64", not(windows)),
    target_arch = "powerpc64",
    target_arch = "s390x"
)))]
type VaListArg = ffi::va_list;

pub(crate) fn route_to_tracing() {
    // SAFETY: `log_callback` has exactly the signature FFmpeg's bindings declare and stays valid
    // for the whole process; FFmpeg may call it from any thread, and it only touches
    // thread-safe state (a mutex-guarded map and thread-locals).
    unsafe {
        ffi::av_log_set_callback(Some(log_callback));
    }
}

/// Where a line goes in `tracing`: errors and warnings at debug (the caller reports what
/// matters itself, naming the file), everything else at trace, so `RUST_LOG=ffmpeg=trace`
/// shows FFmpeg's info, verbose, debug and trace lines too.
fn tracing_level(level: c_int) -> tracing::Level {
    if level <= ffi::AV_LOG_WARNING {
        tracing::Level::DEBUG
    } else {
        tracing::Level::TRACE
    }
}

unsafe extern "C" fn log_callback(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    vl: VaListArg,
) {
    if fmt.is_null() {
        return;
    }
    let is_error = level <= ffi::AV_LOG_ERROR;
    let wanted = match tracing_level(level) {
        tracing::Level::DEBUG => tracing::enabled!(target: "ffmpeg", tracing::Level::DEBUG),
        _ => tracing::enabled!(target: "ffmpeg", tracing::Level::TRACE),
    };
    // Formatting is skipped for lines no one will see: FFmpeg's debug output is frequent.
    if !is_error && !wanted {
        return;
    }
    let mut buf = [0 as c_char; 1024];
    let mut print_prefix: c_int = 0;
    // SAFETY: `buf` is writable for its full length, which we pass; FFmpeg NUL-terminates
    // (truncating if needed); `avcl`, `fmt` and `vl` come straight from FFmpeg's call, and `vl`
    // is consumed once.
    let n = unsafe {
        ffi::av_log_format_line2(
            avcl,
            level,
            fmt,
            vl,
            buf.as_mut_ptr(),
            buf.len() as c_int,
            &mut print_prefix,
        )
    };
    if n < 0 {
        return;
    }
    // SAFETY: av_log_format_line2 always leaves a NUL-terminated string in `buf`.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
    let line = text.trim();
    if line.is_empty() {
        return;
    }
    if is_error {
        // SAFETY: `avcl` is what FFmpeg passed to its log callback.
        let owner = unsafe { decoder_tag(avcl) }
            .or_else(|| TAG.try_with(Cell::get).ok().filter(|&t| t != 0));
        if let Some(tag) = owner {
            with_capture(tag, |c| {
                c.last_error = Some(line.to_string());
                c.errors += 1;
            });
        }
    }
    match level {
        l if l <= ffi::AV_LOG_ERROR => tracing::debug!(target: "ffmpeg", "error: {line}"),
        l if l <= ffi::AV_LOG_WARNING => tracing::debug!(target: "ffmpeg", "warning: {line}"),
        _ => tracing::trace!(target: "ffmpeg", "{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs `msg` at error level through FFmpeg, for `avcl`, as a decoder thread would.
    fn log_error(avcl: *mut c_void, msg: &str) {
        let fmt = std::ffi::CString::new("%s").expect("no NUL");
        let msg = std::ffi::CString::new(msg).expect("no NUL");
        // SAFETY: `avcl` is null or a live AVCodecContext; "%s" takes the one C string given.
        unsafe { ffi::av_log(avcl, ffi::AV_LOG_ERROR, fmt.as_ptr(), msg.as_ptr()) };
    }

    #[test]
    fn an_error_logged_by_a_decoders_own_thread_reaches_the_thread_that_opened_it() {
        crate::media::init();
        let _ = take_last_error();
        let mut ctx = ffmpeg_next::codec::context::Context::new();
        tag_decoder(&mut ctx);
        // A thread that is not ours (as FFmpeg's frame threads are) logs for the decoder.
        // SAFETY: only the address is taken; `ctx` outlives every use of it below.
        let ptr = unsafe { ctx.as_mut_ptr() } as usize;
        std::thread::Builder::new()
            .name("fake-frame-thread".into())
            .spawn(move || log_error(ptr as *mut c_void, "corrupt slice in frame 7"))
            .expect("spawn")
            .join()
            .expect("logger thread");
        assert_eq!(
            take_last_error().as_deref(),
            Some("corrupt slice in frame 7")
        );
        assert_eq!(take_last_error(), None, "taken once");
    }

    #[test]
    fn a_line_for_another_threads_decoder_is_not_taken_here() {
        crate::media::init();
        let mut ctx = ffmpeg_next::codec::context::Context::new();
        tag_decoder(&mut ctx);
        // SAFETY: only the address is taken; `ctx` outlives every use of it below.
        let ptr = unsafe { ctx.as_mut_ptr() } as usize;
        let errors_before = errors_logged();
        // Another worker, with its own tag, logs an untagged line and reads it back itself.
        let seen_there = std::thread::Builder::new()
            .name("other-worker".into())
            .spawn(|| {
                let _ = errors_logged(); // registers this worker
                log_error(std::ptr::null_mut(), "moov atom not found");
                take_last_error()
            })
            .expect("spawn")
            .join()
            .expect("worker");
        assert_eq!(seen_there.as_deref(), Some("moov atom not found"));
        assert_eq!(errors_logged(), errors_before);
        assert_eq!(take_last_error(), None);
        log_error(ptr as *mut c_void, "mine");
        assert_eq!(errors_logged(), errors_before + 1);
    }

    #[test]
    fn rust_log_ffmpeg_trace_shows_ffmpegs_debug_lines() {
        use std::io::Write;
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::ErrorKind::Other)?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        crate::media::init();
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("ffmpeg=trace"))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let fmt = std::ffi::CString::new("probing stream %d").expect("no NUL");
            // SAFETY: "%d" takes the one int given.
            unsafe { ffi::av_log(std::ptr::null_mut(), ffi::AV_LOG_DEBUG, fmt.as_ptr(), 3) };
        });
        let out = String::from_utf8(buf.0.lock().expect("buf").clone()).expect("utf-8");
        assert!(out.contains("probing stream 3"), "{out:?}");
    }

    #[test]
    fn ffmpeg_debug_lines_map_to_trace() {
        assert_eq!(tracing_level(ffi::AV_LOG_ERROR), tracing::Level::DEBUG);
        assert_eq!(tracing_level(ffi::AV_LOG_WARNING), tracing::Level::DEBUG);
        assert_eq!(tracing_level(ffi::AV_LOG_INFO), tracing::Level::TRACE);
        assert_eq!(tracing_level(ffi::AV_LOG_DEBUG), tracing::Level::TRACE);
        assert_eq!(tracing_level(ffi::AV_LOG_TRACE), tracing::Level::TRACE);
    }
}
