//! FFmpeg's log, routed into `tracing` (target `ffmpeg`) instead of raw stderr, and the last
//! error line kept per thread so [`super::MediaError`] can say what FFmpeg actually objected to.
//!
//! This is the one module that needs FFI: FFmpeg hands its callback a C `va_list`, which only
//! FFmpeg's own formatter can expand. `unsafe_code` is denied everywhere else.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    static ERRORS_LOGGED: Cell<u64> = const { Cell::new(0) };
}

/// How many error-level FFmpeg messages this thread has logged so far. Some failures (a
/// truncated MP4's "partial file") surface only in the log: the demuxer itself returns EOF.
pub(crate) fn errors_logged() -> u64 {
    ERRORS_LOGGED.try_with(Cell::get).unwrap_or(0)
}

/// The last error-level FFmpeg message logged on this thread since the previous call.
pub(crate) fn take_last_error() -> Option<String> {
    LAST_ERROR
        .try_with(|c| c.borrow_mut().take())
        .ok()
        .flatten()
}

pub(crate) fn route_to_tracing() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `log_callback` matches the signature FFmpeg expects and is valid for the whole
    // process; FFmpeg may call it from any thread, and it only touches thread-local state.
    unsafe {
        ffmpeg_next::ffi::av_log_set_callback(Some(x86_64::log_callback));
    }
    // Elsewhere `va_list` has another ABI; keep FFmpeg quiet rather than guess it.
    #[cfg(not(target_arch = "x86_64"))]
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Quiet);
}

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::{ERRORS_LOGGED, LAST_ERROR};
    use ffmpeg_next::ffi;
    use std::ffi::{CStr, c_char, c_int, c_void};

    pub(super) unsafe extern "C" fn log_callback(
        avcl: *mut c_void,
        level: c_int,
        fmt: *const c_char,
        vl: *mut ffi::__va_list_tag,
    ) {
        // Verbose and debug output is skipped before formatting: it is frequent and never shown.
        if level > ffi::AV_LOG_INFO || fmt.is_null() {
            return;
        }
        let mut buf = [0 as c_char; 1024];
        let mut print_prefix: c_int = 0;
        // SAFETY: `buf` is writable for its full length, which we pass; FFmpeg NUL-terminates
        // (truncating if needed); `avcl`, `fmt` and `vl` come straight from FFmpeg's call.
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
        if level <= ffi::AV_LOG_ERROR {
            // try_with fails only during thread teardown, when there is no one left to tell.
            let _ = LAST_ERROR.try_with(|c| *c.borrow_mut() = Some(line.to_string()));
            let _ = ERRORS_LOGGED.try_with(|n| n.set(n.get() + 1));
            tracing::debug!(target: "ffmpeg", "error: {line}");
        } else if level <= ffi::AV_LOG_WARNING {
            tracing::debug!(target: "ffmpeg", "warning: {line}");
        } else {
            tracing::trace!(target: "ffmpeg", "{line}");
        }
    }
}
