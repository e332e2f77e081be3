//! Sound output (cpal). For now: finding out whether there is an output device at all, so the
//! studio can say "no audio device" instead of failing later. Playback lands with the media layer.

/// The default output device, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioOutputStatus {
    Available {
        device: String,
        sample_rate_hz: u32,
        channels: u16,
    },
    Unavailable {
        reason: String,
    },
}

impl std::fmt::Display for AudioOutputStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AudioOutputStatus::Available {
                device,
                sample_rate_hz,
                channels,
            } => write!(f, "{device} ({sample_rate_hz} Hz, {channels} ch)"),
            AudioOutputStatus::Unavailable { reason } => write!(f, "no audio device ({reason})"),
        }
    }
}

/// Asks the host for its default output device and that device's default config. Can take a
/// moment (ALSA probes hardware), so callers run it off the UI thread.
pub fn probe_output() -> AudioOutputStatus {
    use cpal::traits::{DeviceTrait, HostTrait};
    let host = cpal::default_host();
    let Some(device) = host.default_output_device() else {
        return AudioOutputStatus::Unavailable {
            reason: "the host reports no default output".into(),
        };
    };
    match device.default_output_config() {
        Ok(cfg) => AudioOutputStatus::Available {
            device: device.to_string(),
            sample_rate_hz: cfg.sample_rate(),
            channels: cfg.channels(),
        },
        Err(e) => AudioOutputStatus::Unavailable {
            reason: e.to_string(),
        },
    }
}
