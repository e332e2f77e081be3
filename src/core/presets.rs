//! Standard settings from the literature, as specs the inspector offers. Each is parsed by core's
//! own parser (a test checks they all parse), so a preset is exactly what `apply` would read.

use super::attack::{AttackSpec, parse_json};

pub struct Preset {
    /// Shown in the menu.
    pub name: &'static str,
    /// The trigger kind it sets.
    pub kind: &'static str,
    /// Where the setting comes from.
    pub source: &'static str,
    pub json: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "BadNets · 3×3 white corner",
        kind: "badnets",
        source: "BackdoorBench's BadNets default: a 3×3 white square at the bottom-right corner",
        json: r#"{"version":1,"visual":{"kind":"badnets","size":3,"anchor":"bottom_right","margin":0,"color":[255,255,255]}}"#,
    },
    Preset {
        name: "BadNets · 16×16 checkerboard (video)",
        kind: "badnets",
        source: "A patch sized for 112–224 px video frames, as in video backdoor benchmarks",
        json: r#"{"version":1,"visual":{"kind":"badnets","size":16,"anchor":"bottom_right","margin":4,"checkerboard":{"cell":4,"colors":[[0,0,0],[255,255,255]]}}}"#,
    },
    Preset {
        name: "BadNets · dynamic random position",
        kind: "badnets",
        source: "The dynamic extension to video: the patch moves to a seeded position each frame",
        json: r#"{"version":1,"visual":{"kind":"badnets","size":16,"color":[255,255,255]},"temporal":{"mode":"dynamic","variation":{"kind":"position_random"}}}"#,
    },
    Preset {
        name: "Blend · random noise, α = 0.2",
        kind: "blend",
        source: "Chen et al. 2017 (blended injection) with a noise pattern; BackdoorBench's α = 0.2",
        json: r#"{"version":1,"visual":{"kind":"blend","alpha":0.2,"pattern":{"noise":{}}}}"#,
    },
    Preset {
        name: "SIG · Δ = 40, f = 6",
        kind: "sig",
        source: "Barni et al. 2019 sinusoidal signal as BackdoorBench sets it",
        json: r#"{"version":1,"visual":{"kind":"sig","delta":40,"freq":6}}"#,
    },
    Preset {
        name: "SIG · moving stripes (dynamic)",
        kind: "sig",
        source: "The dynamic extension: the phase advances 1/8 period per frame",
        json: r#"{"version":1,"visual":{"kind":"sig","delta":40,"freq":6},"temporal":{"mode":"dynamic","variation":{"kind":"phase","cycles_per_frame":0.125}}}"#,
    },
    Preset {
        name: "WaNet · k = 4, s = 0.5",
        kind: "wanet",
        source: "Nguyen & Tran 2021 (WaNet): control grid 4×4, strength 0.5, grid_rescale 1",
        json: r#"{"version":1,"visual":{"kind":"wanet","k":4,"s":0.5,"grid_rescale":1}}"#,
    },
    Preset {
        name: "FTrojan · UV, 32-px blocks, magnitude 30",
        kind: "ftrojan",
        source: "Wang et al. 2022 (FTrojan): Cr/Cb channels, positions (15,15) and (31,31)",
        json: r#"{"version":1,"visual":{"kind":"ftrojan","window":32,"magnitude":30,"positions":[[15,15],[31,31]],"channels":["cr","cb"]}}"#,
    },
    Preset {
        name: "TDBA · core defaults",
        kind: "tdba",
        source: "A temporal-domain DCT trigger with core's default perturbation and frequencies",
        json: r#"{"version":1,"visual":{"kind":"tdba"}}"#,
    },
    Preset {
        name: "Frame lag · freeze",
        kind: "frame_lag",
        source: "A natural artefact: selected frames repeat the previous frame",
        json: r#"{"version":1,"visual":{"kind":"frame_lag","mode":"freeze"},"temporal":{"frames":{"every":{"n":4,"offset":1}}}}"#,
    },
    Preset {
        name: "JPEG · quality 10",
        kind: "jpeg",
        source: "A natural artefact: heavy compression on the selected frames",
        json: r#"{"version":1,"visual":{"kind":"jpeg","quality":10}}"#,
    },
];

impl Preset {
    pub fn spec(&self) -> AttackSpec {
        parse_json(self.json).unwrap_or_else(|e| unreachable!("preset {}: {e}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_has_its_kind() {
        for p in PRESETS {
            let spec = parse_json(p.json).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(
                spec.visual.as_ref().map(|v| v.kind()),
                Some(p.kind),
                "{}",
                p.name
            );
        }
    }
}
