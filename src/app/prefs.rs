//! UI preferences kept between sessions through eframe's storage (with egui's own memory:
//! panel sizes, collapsed headers). The design's own view lives in the project; these are the
//! defaults a new design starts with and the transport's settings.

use crate::core::design::ViewMode;
use crate::jobs::player::Monitor;
use serde::{Deserialize, Serialize};

pub const KEY: &str = "triggerlab-prefs";

pub use crate::ui::timeline::SPEEDS;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub volume: f32,
    pub looping: bool,
    pub monitor: Monitor,
    /// The view a new design opens in.
    pub view: ViewMode,
    pub speed: f32,
    /// The canvas draws on the GPU (`None`: chosen from the adapter).
    pub gpu_preview: Option<bool>,
    /// The guided demo was offered once (it is offered on the first launch only).
    pub demo_offered: bool,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            volume: 1.0,
            looping: true,
            monitor: Monitor::Triggered,
            view: ViewMode::default(),
            speed: 1.0,
            gpu_preview: None,
            demo_offered: false,
        }
    }
}

impl Prefs {
    /// A stored value from an older or hand-edited file: anything out of range falls back to
    /// its default instead of reaching the player.
    pub fn sanitized(mut self) -> Prefs {
        let d = Prefs::default();
        if !(self.volume.is_finite() && (0.0..=1.5).contains(&self.volume)) {
            self.volume = d.volume;
        }
        if !SPEEDS.contains(&self.speed) {
            self.speed = d.speed;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_fall_back() {
        let p = Prefs {
            volume: f32::NAN,
            speed: 7.0,
            ..Prefs::default()
        }
        .sanitized();
        assert_eq!((p.volume, p.speed), (1.0, 1.0));
        let kept = Prefs {
            volume: 0.3,
            speed: 0.5,
            view: ViewMode::Difference,
            ..Prefs::default()
        };
        assert_eq!(kept.clone().sanitized(), kept);
        // A file from an older version, missing fields, still reads.
        let old: Prefs = serde_json::from_str(r#"{"volume":0.5}"#).expect("reads");
        assert_eq!(old.volume, 0.5);
        assert_eq!(old.speed, 1.0);
    }
}
