//! The timeline's audio view: the waveform or the spectrogram of the clip's clean or triggered
//! sound, the playhead, and a band over the time the audio trigger sounds. The pictures are made
//! by `jobs::audio_view` (already coloured); this only uploads and draws them. When core refuses
//! the audio trigger, its message is shown here and the last valid picture stays.

use super::StudioState;
use crate::jobs::audio_view::{AudioPicture, AudioView, LOG_F_MIN_HZ, TriggeredPicture};
use egui_plot::{FilledArea, Plot, Polygon, VLine};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioViewMode {
    Waveform,
    Spectrogram,
}

/// What a texture shows: (clip, revision of the picture, triggered, log axis).
pub type PictureKey = (u32, u64, bool, bool);

/// What the view shows for a clip.
pub struct Shown<'a> {
    pub picture: &'a AudioPicture,
    pub key: PictureKey,
    /// Seconds during which the trigger sounds.
    pub region: Option<(f64, f64)>,
}

/// The audio view's pictures (the latest valid ones) and choices.
#[derive(Default)]
pub struct AudioViewState {
    /// `None`: the spectrogram when the design has an audio trigger, else the waveform.
    pub mode: Option<AudioViewMode>,
    /// Show the clean sound rather than the triggered one.
    pub clean: bool,
    pub log_frequency: bool,
    /// The clip, its clean picture, sample rate, analysed duration and truncation.
    pub clean_picture: Option<(u32, Arc<AudioPicture>)>,
    pub sample_rate_hz: u32,
    pub analysed_secs: f64,
    pub truncated_at: Option<f64>,
    /// The last triggered picture core accepted: (clip, revision, picture).
    pub triggered: Option<(u32, u64, Arc<TriggeredPicture>)>,
    /// Core's refusal of the design's audio trigger, for (clip, revision).
    pub refusal: Option<(u32, u64, String)>,
    /// The design has no audio trigger (as of the latest view).
    pub no_trigger: bool,
    /// A view is being computed for the current (clip, revision).
    pub computing: bool,
    /// What the spectrogram drew last (tests read it).
    pub drawn: Option<PictureKey>,
    textures: Vec<(PictureKey, egui::TextureHandle)>,
}

impl AudioViewState {
    /// Takes a finished view in; a refused trigger keeps the last valid triggered picture.
    pub fn accept(&mut self, v: AudioView) {
        if self.clean_picture.as_ref().map(|c| c.0) != Some(v.clip) {
            self.triggered = None;
            self.textures.clear();
        }
        self.clean_picture = Some((v.clip, v.clean));
        self.sample_rate_hz = v.sample_rate_hz;
        self.analysed_secs = v.duration_secs;
        self.truncated_at = v.truncated_at;
        self.no_trigger = false;
        self.refusal = None;
        match v.triggered {
            Ok(Some(t)) => self.triggered = Some((v.clip, v.revision, t)),
            Ok(None) => {
                self.triggered = None;
                self.no_trigger = true;
            }
            Err(e) => self.refusal = Some((v.clip, v.revision, e)),
        }
    }

    /// The clean picture of `clip`, if made.
    pub fn clean_of(&self, clip: u32) -> Option<&Arc<AudioPicture>> {
        self.clean_picture
            .as_ref()
            .filter(|c| c.0 == clip)
            .map(|c| &c.1)
    }

    /// The picture to show for `clip`, its texture key and the trigger's region.
    pub fn shown(&self, clip: u32) -> Option<Shown<'_>> {
        let clean = self.clean_of(clip)?;
        let trig = self.triggered.as_ref().filter(|t| t.0 == clip);
        let region = trig.map(|t| t.2.region());
        Some(match trig {
            Some((_, rev, t)) if !self.clean => Shown {
                picture: &t.picture,
                key: (clip, *rev, true, self.log_frequency),
                region,
            },
            _ => Shown {
                picture: clean,
                key: (clip, 0, false, self.log_frequency),
                region,
            },
        })
    }

    fn texture(
        &mut self,
        ctx: &egui::Context,
        key: PictureKey,
        picture: &AudioPicture,
    ) -> egui::TextureId {
        if let Some((_, t)) = self.textures.iter().find(|(k, _)| *k == key) {
            return t.id();
        }
        let img = picture.rgba(key.3);
        let color = egui::ColorImage::from_rgba_unmultiplied([img.width, img.height], &img.pixels);
        let t = ctx.load_texture(
            format!("spectrogram-{key:?}"),
            color,
            egui::TextureOptions::LINEAR,
        );
        let id = t.id();
        // A few pictures: the A/B and axis toggles flip between them without re-uploading.
        if self.textures.len() >= 4 {
            drop(self.textures.remove(0));
        }
        self.textures.push((key, t));
        id
    }
}

/// A translucent band over the trigger's time: a light tint, so the picture under it shows.
const BAND: egui::Color32 = egui::Color32::from_rgba_premultiplied(10, 26, 30, 32);
const BAND_EDGE: egui::Color32 = egui::Color32::from_rgb(90, 220, 240);
/// The waveform or spectrogram is at least this tall (the panel grows to fit it).
const MIN_HEIGHT: f32 = 110.0;

pub fn audio_view_ui(state: &mut StudioState, ui: &mut egui::Ui, duration: f64) {
    let Some(entry) = state.selected_entry() else {
        return;
    };
    let clip = entry.id;
    let file_has_audio = entry.info.as_ref().is_some_and(|i| i.audio.is_some());
    let has_audio = entry.clip.as_ref().is_some_and(|c| c.audio().is_some()) || file_has_audio;
    let fallback_envelope = entry.envelope.clone();
    let has_trigger_audio = state.doc.design().spec.audio.is_some();
    let av = &mut state.audio_view;
    let before = av.mode.unwrap_or(if has_trigger_audio {
        AudioViewMode::Spectrogram
    } else {
        AudioViewMode::Waveform
    });
    let mut mode = before;
    ui.horizontal(|ui| {
        ui.label("view");
        ui.selectable_value(&mut mode, AudioViewMode::Waveform, "waveform");
        ui.selectable_value(&mut mode, AudioViewMode::Spectrogram, "spectrogram");
        ui.separator();
        ui.selectable_value(&mut av.clean, true, "clean");
        ui.selectable_value(&mut av.clean, false, "triggered");
        ui.separator();
        ui.checkbox(&mut av.log_frequency, "log frequency");
        if av.computing {
            ui.label(egui::RichText::new("computing...").weak());
        }
        if let Some((_, _, t)) = av.triggered.as_ref().filter(|t| t.0 == clip) {
            let (a, b) = t.region();
            ui.label(egui::RichText::new(format!("trigger {a:.3} - {b:.3} s")).weak());
        } else if av.no_trigger && av.clean_of(clip).is_some() {
            ui.label(egui::RichText::new("no audio trigger in this design").weak());
        }
        if let Some(secs) = av.truncated_at.filter(|_| av.clean_of(clip).is_some()) {
            ui.label(
                egui::RichText::new(format!("first {secs:.0} s of the file's audio only"))
                    .color(ui.visuals().warn_fg_color),
            );
        }
    });
    if mode != before {
        av.mode = Some(mode);
    }
    if let Some((_, _, e)) = av.refusal.as_ref().filter(|r| r.0 == clip) {
        ui.label(
            egui::RichText::new(format!("audio trigger refused: {e}"))
                .color(ui.visuals().error_fg_color),
        );
    }
    if !has_audio {
        ui.label(egui::RichText::new("no audio in this clip").weak());
        return;
    }
    let playhead = state.playback.position_secs;
    let Some((key, region)) = av.shown(clip).map(|s| (s.key, s.region)) else {
        if fallback_envelope.is_empty() {
            ui.label(egui::RichText::new("reading the audio...").weak());
        } else {
            waveform(ui, &fallback_envelope, duration, duration, playhead, None);
        }
        return;
    };
    // The picture lives in `av` (an Arc): clone the Arc so the texture cache can be borrowed.
    let picture = if key.2 {
        av.triggered.as_ref().map(|t| Arc::clone(&t.2)).map(Pic::T)
    } else {
        av.clean_of(clip).cloned().map(Pic::C)
    };
    let Some(picture) = picture else { return };
    let p = picture.get();
    let analysed = av.analysed_secs;
    match mode {
        AudioViewMode::Waveform => {
            waveform(ui, &p.envelope, duration, analysed, playhead, region);
        }
        AudioViewMode::Spectrogram => {
            let tex = av.texture(ui.ctx(), key, p);
            av.drawn = Some(key);
            let nyquist = av.sample_rate_hz as f32 / 2.0;
            spectrogram(
                ui,
                tex,
                key.3,
                nyquist,
                duration.max(1e-6),
                analysed,
                playhead,
                region,
            );
        }
    }
}

enum Pic {
    T(Arc<TriggeredPicture>),
    C(Arc<AudioPicture>),
}

impl Pic {
    fn get(&self) -> &AudioPicture {
        match self {
            Pic::T(t) => &t.picture,
            Pic::C(c) => c,
        }
    }
}

/// The min/max envelope on a seconds axis, with the trigger's band.
fn waveform(
    ui: &mut egui::Ui,
    envelope: &[(f32, f32)],
    duration: f64,
    analysed: f64,
    playhead: f64,
    region: Option<(f64, f64)>,
) {
    // Envelope buckets span the analysed sound evenly.
    let n = envelope.len().max(1) as f64;
    let span = if analysed > 0.0 { analysed } else { duration };
    let xs: Vec<f64> = (0..envelope.len()).map(|i| i as f64 / n * span).collect();
    let lows: Vec<f64> = envelope.iter().map(|(lo, _)| f64::from(*lo)).collect();
    let highs: Vec<f64> = envelope.iter().map(|(_, hi)| f64::from(*hi)).collect();
    Plot::new("waveform")
        .height(ui.available_height().max(MIN_HEIGHT))
        .include_y(-1.0)
        .include_y(1.0)
        .include_x(0.0)
        .include_x(duration)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show_y(false)
        .x_axis_label("seconds")
        .show(ui, |plot| {
            if let Some((a, b)) = region {
                plot.add(
                    Polygon::new("trigger", vec![[a, -1.0], [b, -1.0], [b, 1.0], [a, 1.0]])
                        .fill_color(BAND)
                        .stroke(egui::Stroke::new(1.0, BAND_EDGE)),
                );
            }
            plot.add(
                FilledArea::new("audio", &xs, &lows, &highs)
                    .fill_color(egui::Color32::from_rgb(70, 140, 210)),
            );
            plot.vline(VLine::new("playhead", playhead));
        });
}

/// Frequency-axis ticks (Hz) for the axis.
fn ticks(log: bool, nyquist: f32) -> Vec<f32> {
    if log {
        [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4]
            .into_iter()
            .filter(|f| *f <= nyquist)
            .collect()
    } else {
        (0..=4).map(|i| nyquist * i as f32 / 4.0).collect()
    }
}

fn hz_label(f: f32) -> String {
    if f >= 1000.0 {
        format!("{:.1}k", f / 1000.0).replace(".0k", "k")
    } else {
        format!("{f:.0}")
    }
}

/// The spectrogram picture with a frequency axis on the left, the playhead and the band.
#[allow(clippy::too_many_arguments)]
fn spectrogram(
    ui: &mut egui::Ui,
    tex: egui::TextureId,
    log: bool,
    nyquist: f32,
    duration: f64,
    analysed: f64,
    playhead: f64,
    region: Option<(f64, f64)>,
) {
    let size = egui::vec2(ui.available_width(), ui.available_height().max(MIN_HEIGHT));
    let (outer, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "spectrogram picture"));
    let axis_w = 44.0;
    let rect = egui::Rect::from_min_max(
        egui::pos2(outer.min.x + axis_w, outer.min.y + 2.0),
        egui::pos2(outer.max.x - 4.0, outer.max.y - 14.0),
    );
    let painter = ui.painter_at(outer);
    painter.rect_filled(rect, 0.0, egui::Color32::BLACK);
    // The picture covers the analysed sound (a truncated file's start) of the clip's length.
    let x_of = |t: f64| rect.min.x + (t / duration).clamp(0.0, 1.0) as f32 * rect.width();
    let pic = egui::Rect::from_min_max(rect.min, egui::pos2(x_of(analysed), rect.max.y));
    painter.image(
        tex,
        pic,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    let text = ui.visuals().text_color();
    let font = egui::FontId::proportional(10.0);
    let y_of = |f: f32| {
        let u = if log {
            (f / LOG_F_MIN_HZ).max(1.0).ln() / (nyquist / LOG_F_MIN_HZ).max(1.0001).ln()
        } else {
            f / nyquist.max(1.0)
        };
        rect.max.y - u.clamp(0.0, 1.0) * rect.height()
    };
    for f in ticks(log, nyquist) {
        let y = y_of(f);
        painter.line_segment(
            [egui::pos2(rect.min.x - 4.0, y), egui::pos2(rect.min.x, y)],
            egui::Stroke::new(1.0, text),
        );
        painter.text(
            egui::pos2(rect.min.x - 6.0, y),
            egui::Align2::RIGHT_CENTER,
            hz_label(f),
            font.clone(),
            text,
        );
    }
    painter.text(
        egui::pos2(outer.min.x + 2.0, outer.max.y),
        egui::Align2::LEFT_BOTTOM,
        "Hz",
        font.clone(),
        text,
    );
    painter.text(
        egui::pos2(rect.max.x, outer.max.y),
        egui::Align2::RIGHT_BOTTOM,
        format!("{duration:.2} s"),
        font,
        text,
    );
    if let Some((a, b)) = region {
        let band = egui::Rect::from_min_max(
            egui::pos2(x_of(a), rect.min.y),
            egui::pos2(x_of(b).max(x_of(a) + 1.0), rect.max.y),
        );
        painter.rect_filled(band, 0.0, BAND);
        painter.rect_stroke(
            band,
            0.0,
            egui::Stroke::new(1.5, BAND_EDGE),
            egui::StrokeKind::Inside,
        );
    }
    let x = x_of(playhead);
    painter.line_segment(
        [egui::pos2(x, rect.min.y), egui::pos2(x, rect.max.y)],
        egui::Stroke::new(1.5, egui::Color32::WHITE),
    );
}
