//! The model lens's sensitivity sweep, the pure half: which parameters of an attack can be swept
//! (every number its trigger specs hold, found in their JSON form as the inspector's widgets are,
//! and the number of triggered frames), the values of a sweep, and the attack at one value
//! (through `design::spec_with_field`, so it parses as the inspector's edits do; a value out of a
//! trigger's range is refused when the trigger is prepared, and the sweep reports it at that
//! value).

use super::attack::AttackSpec;
use super::design::spec_with_field;
use super::placement::FrameSelection;
use super::spec_error::SpecError;
use serde_json::Value;

/// The sweep's path for the number of triggered frames.
pub const FRAMES: &str = "temporal.frames";

/// One parameter a sweep can vary.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepParam {
    /// The spec path (`visual.alpha`, `audio.level_dbfs`) or [`FRAMES`].
    pub path: String,
    /// What the plot's axis says.
    pub label: String,
    /// Whole numbers only (patch size, k, frames).
    pub integer: bool,
    /// A sensible default range.
    pub lo: f64,
    pub hi: f64,
}

/// What `attack` (on clips of `frames` frames) lets a sweep vary, visual first.
pub fn sweepable(attack: &AttackSpec, frames: usize) -> Vec<SweepParam> {
    let mut out: Vec<SweepParam> = Vec::new();
    let json = serde_json::to_value(attack).unwrap_or(Value::Null);
    for part in ["visual", "audio"] {
        if let Some(obj) = json.get(part).and_then(Value::as_object) {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let mut found: Vec<SweepParam> = obj
                .iter()
                .filter(|(key, _)| *key != "seed" && *key != "version")
                .filter_map(|(key, v)| param(part, kind, key, v))
                .collect();
            // The parameters a trigger is usually judged by first (the spec's keys come sorted).
            let rank = |p: &SweepParam| {
                let key = p.path.rsplit('.').next().unwrap_or("");
                HEADLINE
                    .iter()
                    .position(|k| *k == key)
                    .unwrap_or(HEADLINE.len())
            };
            found.sort_by_key(rank);
            out.extend(found);
        }
        if part == "visual" && attack.visual.is_some() && frames > 1 {
            out.push(SweepParam {
                path: FRAMES.into(),
                label: "triggered frames".into(),
                integer: true,
                lo: 1.0,
                hi: frames as f64,
            });
        }
    }
    out
}

/// Headline parameters, in the order a sweep offers them.
const HEADLINE: [&str; 9] = [
    "opacity",
    "alpha",
    "delta",
    "size",
    "magnitude",
    "s",
    "pert",
    "level_dbfs",
    "amplitude",
];

fn param(part: &str, kind: &str, key: &str, v: &Value) -> Option<SweepParam> {
    let x = v.as_f64()?;
    let integer = v.is_u64() || v.is_i64();
    // Known ranges; otherwise from zero (or twice below a negative level) to twice the value.
    let (lo, hi) = match key {
        "opacity" | "alpha" | "amplitude" | "s" => (0.0, 1.0),
        "quality" => (5.0, 100.0),
        "level_dbfs" => (-60.0, 0.0),
        "margin" => (0.0, 16.0),
        _ if x == 0.0 && integer => (0.0, 10.0),
        _ if x > 0.0 => (if integer { 1.0 } else { 0.0 }, (2.0 * x).max(1.0)),
        _ if x < 0.0 => (2.0 * x, 0.0),
        _ => (0.0, 1.0),
    };
    Some(SweepParam {
        path: format!("{part}.{key}"),
        label: format!("{kind} {key}"),
        integer,
        lo,
        hi,
    })
}

/// `n` evenly spaced values from `lo` to `hi` (whole numbers for an integer parameter, without
/// repeats); empty when the range is not finite.
pub fn sweep_values(p: &SweepParam, lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || n == 0 {
        return Vec::new();
    }
    let mut out: Vec<f64> = (0..n)
        .map(|i| {
            let t = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            let v = lo + (hi - lo) * t;
            if p.integer { v.round() } else { v }
        })
        .collect();
    out.dedup_by(|a, b| a == b);
    out
}

/// The attack with the swept parameter at `value`. The number of triggered frames keeps the
/// selection's kind where it has a count (a range's length, random frames' k) and otherwise
/// takes `k` random frames.
pub fn with_value(attack: &AttackSpec, path: &str, value: f64) -> Result<AttackSpec, SpecError> {
    if !value.is_finite() {
        return Err(SpecError::new(path, format!("{value} is not a number")));
    }
    if path == FRAMES {
        if value < 1.0 {
            return Err(SpecError::new(
                path,
                "at least one frame carries the trigger",
            ));
        }
        let k = value.round() as usize;
        let mut a = attack.clone();
        a.temporal.frames = match a.temporal.frames {
            FrameSelection::Range { start, .. } => FrameSelection::Range { start, len: k },
            _ => FrameSelection::Random { k },
        };
        return Ok(a);
    }
    let current = serde_json::to_value(attack).unwrap_or(Value::Null);
    let integer = path
        .split_once('.')
        .and_then(|(part, key)| current.get(part)?.get(key))
        .is_some_and(|v| v.is_u64() || v.is_i64());
    let v = if integer {
        Value::from(value.round() as i64)
    } else {
        Value::from(value)
    };
    spec_with_field(attack, path, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::trigger::VisualTrigger;

    fn blend() -> AttackSpec {
        crate::core::attack::parse_value(serde_json::json!({
            "version": 1,
            "visual": {"kind": "blend", "alpha": 0.2, "pattern": {"noise": {}}},
            "temporal": {"frames": "all", "mode": "static"},
        }))
        .expect("blend spec")
    }

    #[test]
    fn a_blends_alpha_and_its_frames_can_be_swept_and_each_value_lands_in_the_spec() {
        let a = blend();
        let params = sweepable(&a, 16);
        let alpha = params
            .iter()
            .find(|p| p.path == "visual.alpha")
            .expect("alpha is sweepable");
        assert!(!alpha.integer);
        assert_eq!((alpha.lo, alpha.hi), (0.0, 1.0));
        let frames = params.iter().find(|p| p.path == FRAMES).expect("frames");
        assert_eq!((frames.lo, frames.hi), (1.0, 16.0));
        let b = with_value(&a, "visual.alpha", 0.05).expect("alpha 0.05");
        match b.visual {
            Some(VisualTrigger::Blend(s)) => assert!((s.alpha - 0.05).abs() < 1e-12),
            other => panic!("{other:?}"),
        }
        let c = with_value(&a, FRAMES, 4.0).expect("4 frames");
        assert_eq!(c.temporal.frames, FrameSelection::Random { k: 4 });
        assert!(with_value(&a, FRAMES, 0.0).is_err());
        assert!(with_value(&a, "visual.alpha", f64::NAN).is_err());
    }

    #[test]
    fn a_patchs_headline_parameters_come_first_with_usable_ranges() {
        let a = crate::core::attack::parse_value(serde_json::json!({
            "version": 1,
            "visual": {"kind": "badnets", "size": 8, "margin": 0, "opacity": 1.0},
        }))
        .expect("badnets");
        let params = sweepable(&a, 8);
        let paths: Vec<&str> = params.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(&paths[..2], ["visual.opacity", "visual.size"], "{paths:?}");
        let margin = params
            .iter()
            .find(|p| p.path == "visual.margin")
            .expect("margin");
        assert_eq!((margin.lo, margin.hi), (0.0, 16.0));
        assert!(sweep_values(margin, margin.lo, margin.hi, 6).len() == 6);
    }

    #[test]
    fn integer_sweeps_have_whole_distinct_values() {
        let p = SweepParam {
            path: "visual.size".into(),
            label: "size".into(),
            integer: true,
            lo: 1.0,
            hi: 3.0,
        };
        assert_eq!(sweep_values(&p, 1.0, 3.0, 5), vec![1.0, 2.0, 3.0]);
        let f = SweepParam {
            integer: false,
            ..p
        };
        assert_eq!(sweep_values(&f, 0.0, 1.0, 3), vec![0.0, 0.5, 1.0]);
        assert!(sweep_values(&f, f64::NAN, 1.0, 3).is_empty());
    }
}
