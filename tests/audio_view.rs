//! The timeline's audio view, driven by label: with a tone trigger the spectrogram is shown,
//! and its picture is bright at the tone's frequency inside the trigger's band and dark there
//! outside it (and in the clean sound); an ultrasonic trigger above Nyquist shows core's refusal
//! in the view while the last valid picture stays. (kittest here renders no pixels, so the test
//! reads the RGBA picture the view uploads, by the key of what it drew.)

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::attack::{AttackSpec, SPEC_VERSION};
use triggerlab::core::audio_trigger::{AudioPlacement, AudioTrigger, ToneSpec};
use triggerlab::core::design::DesignCommand;
use triggerlab::core::synth::SynthSpec;
use triggerlab::ui::UiCommand;

/// SynthMotion clips are 2 s at 16 kHz (Nyquist 8 kHz); their class sounds stay below 2 kHz.
const TONE_HZ: f64 = 5000.0;

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn spec(trigger: AudioTrigger) -> AttackSpec {
    AttackSpec {
        version: SPEC_VERSION,
        visual: None,
        temporal: Default::default(),
        audio: Some(trigger),
        seed: 0,
    }
}

fn tone(kind: fn(ToneSpec) -> AudioTrigger, freq_hz: f64) -> AudioTrigger {
    kind(ToneSpec {
        freq_hz,
        level_dbfs: -12.0,
        duration_secs: 0.5,
        fade_secs: 0.005,
        placement: AudioPlacement::At { at: 1.0 },
    })
}

fn harness(tag: &str) -> Harness<'static, TriggerLabApp> {
    let opts = StudioOptions {
        library: Some(library()),
        autosave_dir: Some(
            std::env::temp_dir().join(format!("tl-audioview-{tag}-{}", std::process::id())),
        ),
        attack: Some((spec(tone(AudioTrigger::Tone, TONE_HZ)), PathBuf::from("."))),
        frame: Some(2),
        ..Default::default()
    };
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

/// Steps until the audio view has answered for the selected clip at the current revision.
fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.step();
        let s = h.state().state();
        let answered = s.selected_entry().is_some_and(|e| {
            let av = &s.audio_view;
            let rev = s.doc.revision();
            av.clean_of(e.id).is_some()
                && !av.computing
                && (av.triggered.as_ref().is_some_and(|t| t.1 == rev)
                    || av.refusal.as_ref().is_some_and(|r| r.1 == rev))
        });
        if !h.state().busy() && answered {
            break;
        }
        assert!(Instant::now() < deadline, "the audio view never answered");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
    h.step();
}

/// Mean brightness of the drawn picture's row at `hz`, inside and outside the trigger's band.
fn row_brightness(h: &Harness<'static, TriggerLabApp>, hz: f32) -> (f32, f32) {
    let s = h.state().state();
    let av = &s.audio_view;
    let clip = s.selected_entry().expect("a clip").id;
    let shown = av.shown(clip).expect("a picture");
    assert_eq!(
        av.drawn,
        Some(shown.key),
        "the spectrogram drew this picture"
    );
    let (t0, t1) = shown.region.expect("the trigger's band");
    let log = shown.key.3;
    let img = shown.picture.rgba(log);
    let y = img.height - 1 - shown.picture.grid(log).row_of(hz);
    let secs = av.analysed_secs;
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for x in 0..img.width {
        let t = (x as f64 + 0.5) / img.width as f64 * secs;
        let p = img.pixel(x, y);
        let lum = (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) as f32 / 3.0;
        // A window's width away from the band's edges, so no column is half in.
        if t > t0 + 0.05 && t < t1 - 0.05 {
            inside.push(lum);
        } else if t < t0 - 0.05 || t > t1 + 0.05 {
            outside.push(lum);
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    assert!(!inside.is_empty() && !outside.is_empty());
    (mean(&inside), mean(&outside))
}

#[test]
fn the_spectrogram_shows_the_tone_in_its_band_and_a_refusal_keeps_the_last_picture() {
    let mut h = harness("spectro");
    settle(&mut h);
    h.get_by_label("spectrogram").click();
    settle(&mut h);
    {
        let s = h.state().state();
        let t = &s.audio_view.triggered.as_ref().expect("mixed").2;
        let (t0, t1) = t.region();
        assert!(
            (t0 - 1.0).abs() < 1e-6 && (t1 - 1.5).abs() < 1e-6,
            "{t0}..{t1}"
        );
    }
    let (inside, outside) = row_brightness(&h, TONE_HZ as f32);
    assert!(
        inside > outside + 80.0,
        "triggered, linear axis: {inside} inside vs {outside} outside"
    );

    h.get_by_label("log frequency").click();
    settle(&mut h);
    assert!(
        h.state().state().audio_view.drawn.is_some_and(|k| k.3),
        "log axis"
    );
    let (log_inside, outside) = row_brightness(&h, TONE_HZ as f32);
    assert!(
        log_inside > outside + 80.0,
        "log axis: {log_inside} vs {outside}"
    );

    // The clean sound has only its faint noise floor at the tone's frequency, band or not. The audio monitor's
    // "clean" comes first in the timeline; the view's is the last.
    h.get_all_by_label("clean")
        .last()
        .expect("the view's clean")
        .click();
    settle(&mut h);
    assert!(h.state().state().audio_view.drawn.is_some_and(|k| !k.2));
    let (inside, outside) = row_brightness(&h, TONE_HZ as f32);
    assert!(
        (inside - outside).abs() < 30.0 && inside + 80.0 < log_inside,
        "clean: {inside} vs {outside} (triggered: {log_inside})"
    );
    h.get_all_by_label("triggered")
        .last()
        .expect("the view's triggered")
        .click();
    settle(&mut h);
    let valid = h.state().state().audio_view.drawn.expect("drawn");
    assert!(valid.2, "triggered again");

    // 9 kHz is above this clip's Nyquist (8 kHz): core refuses; the view says so in place.
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::Design(DesignCommand::SetSpec(spec(tone(
            AudioTrigger::Ultrasonic,
            9000.0,
        )))));
    settle(&mut h);
    let refusal = h
        .state()
        .state()
        .audio_view
        .refusal
        .as_ref()
        .expect("refused")
        .2
        .clone();
    assert!(
        refusal.contains("audio.freq_hz") && refusal.contains("8000"),
        "{refusal}"
    );
    h.get_by_label(&format!("audio trigger refused: {refusal}"));
    assert_eq!(
        h.state().state().audio_view.drawn,
        Some(valid),
        "the last valid picture stays"
    );
    let (inside, outside) = row_brightness(&h, TONE_HZ as f32);
    assert!(inside > outside + 80.0, "still the 5 kHz tone's picture");
}

/// A streamed file (2 s, 440 Hz stereo AAC at 44.1 kHz): its audio is decoded once, bounded.
#[test]
fn a_files_audio_is_decoded_once_bounded_and_shows_the_trigger() {
    use triggerlab::jobs::audio_view::decode_file_audio_now;
    let path = common::mp4_h264_aac();
    let part = decode_file_audio_now(&path, 1.0, &|| false)
        .expect("decodes")
        .expect("has audio");
    assert_eq!(part.truncated_at, Some(1.0), "stopped at the bound");
    assert_eq!(
        (part.audio.sample_rate_hz(), part.audio.channels()),
        (44_100, 2)
    );
    assert_eq!(part.audio.len_frames(), 44_100);
    let whole = decode_file_audio_now(&path, 600.0, &|| false)
        .expect("decodes")
        .expect("has audio");
    assert_eq!(whole.truncated_at, None);
    assert!((whole.audio.duration().to_f64() - 2.0).abs() < 0.1);

    // In the studio: the file's view gets the spectrogram and the trigger's band, and playback
    // mixes the trigger in.
    let opts = StudioOptions {
        library: Some(library()),
        autosave_dir: Some(
            std::env::temp_dir().join(format!("tl-audioview-file-{}", std::process::id())),
        ),
        attack: Some((spec(tone(AudioTrigger::Tone, TONE_HZ)), PathBuf::from("."))),
        open: Some(path),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        h.step();
        let s = h.state().state();
        let ready = s.selected_entry().is_some_and(|e| {
            matches!(e.source, triggerlab::ui::ClipSource::File(_))
                && s.audio_view.clean_of(e.id).is_some()
                && s.audio_view
                    .triggered
                    .as_ref()
                    .is_some_and(|t| t.0 == e.id && t.1 == s.doc.revision())
        });
        if ready && h.state().playback_has_audio_trigger() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the file's audio view never came"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
    let (inside, outside) = row_brightness(&h, TONE_HZ as f32);
    assert!(inside > outside + 80.0, "file: {inside} vs {outside}");
    let s = h.state().state();
    assert_eq!(s.audio_view.sample_rate_hz, 44_100);
    assert_eq!(s.audio_view.truncated_at, None);
}
