//! Properties every trigger keeps, over random clips, sizes, seeds and selections (proptest):
//! shape and range, determinism, static = the same trigger on every selected frame, unselected
//! frames untouched, dynamic = the trigger changes between frames.

use proptest::prelude::*;
use triggerlab::core::assets::NoAssets;
use triggerlab::core::attack::{AttackSpec, apply_clip};
use triggerlab::core::placement::{FrameSelection, Mode, TemporalSpec};
use triggerlab::core::trigger::{KINDS, VisualTrigger};
use triggerlab::core::{Clip, Frame, Rational};

fn clip(frames: &[Vec<u8>], w: usize, h: usize) -> Clip {
    let f = frames
        .iter()
        .map(|px| Frame::new(w as u32, h as u32, px.clone()).expect("sized"))
        .collect();
    Clip::new(f, Rational::from_int(8), None).expect("clip")
}

/// A trigger of `kind` that fits frames of at least 16×16.
fn small(kind: &str) -> VisualTrigger {
    let mut t = VisualTrigger::default_of(kind).expect("defaults");
    match &mut t {
        VisualTrigger::Badnets(b) => {
            b.size = triggerlab::core::trigger::patch::PatchSize::Square(5)
        }
        VisualTrigger::Ftrojan(f) => f.window = 8,
        VisualTrigger::Tdba(d) => d.spatial = vec![[2, 3]],
        _ => {}
    }
    t
}

fn selection() -> impl Strategy<Value = FrameSelection> {
    prop_oneof![
        Just(FrameSelection::All),
        (0usize..2, 1usize..3).prop_map(|(start, len)| FrameSelection::Range { start, len }),
        (1usize..3, 0usize..2).prop_map(|(n, offset)| FrameSelection::Every { n, offset }),
        (1usize..3).prop_map(|k| FrameSelection::Random { k }),
    ]
}

fn spec(kind: &str, frames: FrameSelection, mode: Mode, seed: u64) -> AttackSpec {
    let mut s = AttackSpec::visual(small(kind));
    s.temporal = TemporalSpec {
        frames,
        mode,
        variation: None,
    };
    s.seed = seed;
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn shape_determinism_and_untouched_frames(
        kind in proptest::sample::select(KINDS.to_vec()),
        w in 16usize..40, h in 16usize..40, t in 3usize..6,
        seed in any::<u64>(), content in any::<u64>(),
        frames in selection(),
    ) {
        let data: Vec<Vec<u8>> = (0..t)
            .map(|k| (0..w * h * 3).map(|i| ((i as u64 * 2654435761 + k as u64 * 97 + content) >> 7) as u8).collect())
            .collect();
        let input = clip(&data, w, h);
        let s = spec(kind, frames, Mode::Static, seed);
        let a = apply_clip(&s, &input, &NoAssets).expect("applies");
        let b = apply_clip(&s, &input, &NoAssets).expect("applies");
        prop_assert_eq!(a.clip.frames(), b.clip.frames(), "deterministic");
        prop_assert_eq!(a.clip.frames().len(), t);
        prop_assert!(a.clip.frames().iter().all(|f| (f.width() as usize, f.height() as usize) == (w, h)));
        let lag_drop = matches!(&s.visual, Some(VisualTrigger::FrameLag(l)) if l.mode == triggerlab::core::trigger::natural::LagMode::Drop);
        if !lag_drop {
            for i in 0..t {
                if !a.selected.contains(&i) {
                    prop_assert_eq!(&a.clip.frames()[i], &input.frames()[i], "unselected frame {} changed", i);
                }
            }
        }
    }

    #[test]
    fn static_is_the_same_trigger_on_every_selected_frame(
        kind in proptest::sample::select(vec!["badnets", "blend", "sig", "wanet", "ftrojan", "motion_blur", "jpeg", "color_cast"]),
        w in 16usize..32, h in 16usize..32, seed in any::<u64>(),
    ) {
        // Identical input frames: a static trigger must give identical output frames.
        let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 31 % 256) as u8).collect();
        let input = clip(&vec![px; 4], w, h);
        let out = apply_clip(&spec(kind, FrameSelection::All, Mode::Static, seed), &input, &NoAssets).expect("applies");
        let f = out.clip.frames();
        prop_assert!(f.iter().all(|x| x == &f[0]), "{} differs between frames", kind);
    }

    #[test]
    fn dynamic_changes_between_frames(
        kind in proptest::sample::select(vec!["badnets", "blend", "sig", "wanet", "ftrojan"]),
        seed in any::<u64>(),
    ) {
        let (w, h) = (32, 32);
        let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 31 % 200) as u8 + 20).collect();
        let input = clip(&vec![px; 6], w, h);
        let out = apply_clip(&spec(kind, FrameSelection::All, Mode::Dynamic, seed), &input, &NoAssets).expect("applies");
        let f = out.clip.frames();
        prop_assert!(f.iter().any(|x| x != &f[0]), "{} is the same on every frame", kind);
        // Still deterministic for the seed.
        let again = apply_clip(&spec(kind, FrameSelection::All, Mode::Dynamic, seed), &input, &NoAssets).expect("applies");
        prop_assert_eq!(again.clip.frames(), f);
    }
}

#[test]
fn dynamic_on_a_temporal_trigger_is_refused_by_name() {
    let s = spec("flicker", FrameSelection::All, Mode::Dynamic, 0);
    let input = clip(&[vec![0u8; 16 * 16 * 3]], 16, 16);
    let e = apply_clip(&s, &input, &NoAssets).expect_err("flicker is temporal already");
    assert!(e.to_string().contains("temporal.mode"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// A hand-placed keyframe path, any keyframes and any clip length: the patch stays inside
    /// the frame on every frame, sits exactly at each keyframe on its frame, holds outside the
    /// path, and the same spec gives the same positions.
    #[test]
    fn keyframed_positions_stay_inside_and_hit_their_keyframes(
        fw in 8usize..64, fh in 8usize..64, size in 1u32..8,
        keys in proptest::collection::vec((1usize..12, any::<u32>(), any::<u32>()), 1..6),
        smooth in any::<bool>(), frames in 1usize..48,
    ) {
        use triggerlab::core::placement::{Easing, FrameCtx, Keyframe, Variation};
        let p = size as usize;
        prop_assume!(p <= fw && p <= fh);
        let mut frame = 0;
        let keyframes: Vec<Keyframe> = keys
            .iter()
            .map(|&(gap, x, y)| {
                frame += gap;
                Keyframe { frame, x: x as usize % (fw - p + 1), y: y as usize % (fh - p + 1) }
            })
            .collect();
        let easing = if smooth { Easing::Smooth } else { Easing::Linear };
        let spec = triggerlab::core::trigger::badnets::BadnetsSpec {
            size: triggerlab::core::trigger::patch::PatchSize::Square(size),
            ..Default::default()
        };
        let variation = Variation::PositionKeyframes { keyframes: keyframes.clone(), easing };
        let prepared = spec.prepare("visual", fw, fh, 7, Some(variation), &NoAssets).expect("fits");
        let again = prepared.clone();
        let ctx = |index| FrameCtx { index, ordinal: index, count: frames };
        for index in 0..frames.max(frame + 2) {
            let (x, y) = prepared.position_at(&ctx(index));
            prop_assert!(x + p <= fw && y + p <= fh, "frame {}: ({}, {}) leaves the frame", index, x, y);
            prop_assert_eq!((x, y), again.position_at(&ctx(index)));
            if let Some(k) = keyframes.iter().find(|k| k.frame == index) {
                prop_assert_eq!((x, y), (k.x, k.y), "keyframe at frame {}", index);
            }
        }
        let (first, last) = (keyframes[0], keyframes[keyframes.len() - 1]);
        prop_assert_eq!(prepared.position_at(&ctx(0)), (first.x, first.y));
        prop_assert_eq!(prepared.position_at(&ctx(last.frame + 5)), (last.x, last.y));
    }
}

/// Through the attack spec and `apply_clip` (what `apply`, `run` and the trainer use): on each
/// frame of a keyframed clip only the patch's square at the interpolated position changes.
#[test]
fn a_keyframed_patch_moves_through_the_clip() {
    let (w, h, t) = (24usize, 24usize, 6usize);
    let data: Vec<Vec<u8>> = (0..t).map(|_| vec![40u8; w * h * 3]).collect();
    let input = clip(&data, w, h);
    let spec = triggerlab::core::attack::parse_json(
        r#"{"version": 1, "visual": {"kind": "badnets", "size": 3},
            "temporal": {"mode": "dynamic", "variation": {"kind": "position_keyframes",
            "keyframes": [{"frame": 0, "x": 0, "y": 0}, {"frame": 5, "x": 15, "y": 10}]}}}"#,
    )
    .expect("spec");
    let out = apply_clip(&spec, &input, &NoAssets).expect("applies");
    for (i, frame) in out.clip.frames().iter().enumerate() {
        // Linear: x = 3i, y = round(2i).
        let (x0, y0) = (3 * i, 2 * i);
        for y in 0..h {
            for x in 0..w {
                let inside = (x0..x0 + 3).contains(&x) && (y0..y0 + 3).contains(&y);
                let px = &frame.rgb()[(y * w + x) * 3..][..3];
                assert_eq!(
                    px != [40, 40, 40],
                    inside,
                    "frame {i}, pixel ({x}, {y}): {px:?}"
                );
            }
        }
    }
}
