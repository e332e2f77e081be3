//! The design document: what the user makes in the studio — the attack being designed, the patch
//! they painted or picked, the clips in their library, where they are in a clip and how they look
//! at it. Serialisable (`*.tlab.json`) and versioned; runtime handles (textures, players, jobs,
//! decoded frames) live outside it.
//!
//! Every change is a [`DesignCommand`] applied by [`Document::apply`], the one place that
//! mutates a design. Edits to what a trigger computes (the spec, the patch, the library) go
//! through an undo [`History`] and bump [`Document::revision`], which keys every preview,
//! thumbnail and metric computed from the design; moving the playhead, selecting a clip or
//! changing the view is saved with the project but is not an undo step (playing a clip would
//! otherwise flood the history).

use super::attack::{AttackSpec, parse_value};
use super::audio_trigger::AudioTrigger;
use super::placement::{TemporalSpec, Variation};
use super::spec_error::SpecError;
use super::trigger::VisualTrigger;
use super::trigger::patch::Painted;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The project format version this build writes and reads.
pub const DESIGN_VERSION: u32 = 1;

/// A clip in the library, by what it is; its stable id (saved in projects) derives from this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ClipRef {
    /// The orbiting-disc demo clip.
    Demo,
    /// A clip of the built-in SynthMotion dataset.
    Synth { class: String, index: usize },
    /// A video file.
    File { path: PathBuf },
}

impl ClipRef {
    /// An id that names the same clip across sessions (unlike a row index).
    pub fn id(&self) -> String {
        match self {
            ClipRef::Demo => "demo".into(),
            ClipRef::Synth { class, index } => format!("synth:{class}#{index}"),
            ClipRef::File { path } => format!("file:{}", path.display()),
        }
    }
}

/// How the canvas shows the frame at the playhead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewMode {
    Clean,
    #[default]
    Poisoned,
    /// |poisoned − clean| amplified by [`ViewSettings::diff_gain`].
    Difference,
    SideBySide,
    /// Clean left of the divider, poisoned right of it.
    Wipe,
}

impl ViewMode {
    pub const ALL: [ViewMode; 5] = [
        ViewMode::Clean,
        ViewMode::Poisoned,
        ViewMode::Difference,
        ViewMode::SideBySide,
        ViewMode::Wipe,
    ];

    /// The name used on the command line and in menus.
    pub fn name(self) -> &'static str {
        match self {
            ViewMode::Clean => "clean",
            ViewMode::Poisoned => "poisoned",
            ViewMode::Difference => "difference",
            ViewMode::SideBySide => "side-by-side",
            ViewMode::Wipe => "wipe",
        }
    }

    pub fn parse(s: &str) -> Option<ViewMode> {
        ViewMode::ALL.into_iter().find(|m| m.name() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewSettings {
    pub mode: ViewMode,
    /// Amplification of the difference view.
    pub diff_gain: f32,
    /// The A/B wipe divider, as a fraction of the frame's width.
    pub wipe: f32,
    /// Screen pixels per frame pixel; `None` fits the frame to the canvas.
    pub zoom: Option<f32>,
    /// Offset of the frame's centre from the canvas centre, in screen points.
    pub pan: [f32; 2],
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            mode: ViewMode::Poisoned,
            diff_gain: 8.0,
            wipe: 0.5,
            zoom: None,
            pan: [0.0, 0.0],
        }
    }
}

/// What the user designs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Design {
    pub version: u32,
    /// The attack being designed. It may hold values core refuses for a given clip (e.g. a patch
    /// larger than the frame); previews then keep showing the last spec that worked.
    pub spec: AttackSpec,
    /// The user's painted or picked patch, kept even while the patch source is something else.
    pub patch: Option<Painted>,
    /// Clips the user added (files), in the order added; SynthMotion clips are built in.
    pub library: Vec<ClipRef>,
    /// Dataset folders opened in the library.
    pub datasets: Vec<PathBuf>,
    /// The selected clip's stable id.
    pub selected: Option<String>,
    /// The playhead, as a frame index of the selected clip.
    pub cursor: usize,
    pub view: ViewSettings,
}

/// The spec a new design starts with: core's default BadNets (a white patch in the bottom-right
/// corner) on all frames.
pub fn default_spec() -> AttackSpec {
    AttackSpec::visual(
        VisualTrigger::default_of("badnets")
            .unwrap_or_else(|| unreachable!("badnets has defaults")),
    )
}

impl Default for Design {
    fn default() -> Self {
        Design {
            version: DESIGN_VERSION,
            spec: default_spec(),
            patch: None,
            library: Vec::new(),
            datasets: Vec::new(),
            selected: None,
            cursor: 0,
            view: ViewSettings::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDesign {
    version: u32,
    spec: serde_json::Value,
    #[serde(default)]
    patch: Option<Painted>,
    #[serde(default)]
    library: Vec<ClipRef>,
    #[serde(default)]
    datasets: Vec<PathBuf>,
    #[serde(default)]
    selected: Option<String>,
    #[serde(default)]
    cursor: usize,
    #[serde(default)]
    view: ViewSettings,
}

/// Parses a project file's text. Errors name the field (e.g. `spec.visual.size`, `view.mode`).
pub fn parse_design(text: &str) -> Result<Design, SpecError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| SpecError::new("project", format!("not valid JSON: {e}")))?;
    let raw: RawDesign = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "project".into() } else { path };
        SpecError::new(field, e.into_inner().to_string())
    })?;
    if raw.version != DESIGN_VERSION {
        return Err(SpecError::new(
            "version",
            format!(
                "{} is not a project version this build reads (it reads {DESIGN_VERSION})",
                raw.version
            ),
        ));
    }
    let spec = parse_value(raw.spec).map_err(|e| {
        let field = if e.field == "spec" {
            "spec".to_string()
        } else {
            format!("spec.{}", e.field)
        };
        SpecError::new(field, e.message)
    })?;
    if !raw.view.diff_gain.is_finite() || raw.view.diff_gain <= 0.0 {
        return Err(SpecError::new(
            "view.diff_gain",
            format!("{} must be a positive number", raw.view.diff_gain),
        ));
    }
    if !(0.0..=1.0).contains(&raw.view.wipe) {
        return Err(SpecError::new(
            "view.wipe",
            format!("{} is outside [0, 1]", raw.view.wipe),
        ));
    }
    if let Some(p) = &raw.patch
        && p.rgba.len() != p.width as usize * p.height as usize * 4
    {
        return Err(SpecError::new(
            "patch.rgba",
            format!(
                "{} bytes do not make a {}×{} RGBA patch",
                p.rgba.len(),
                p.width,
                p.height
            ),
        ));
    }
    Ok(Design {
        version: raw.version,
        spec,
        patch: raw.patch,
        library: raw.library,
        datasets: raw.datasets,
        selected: raw.selected,
        cursor: raw.cursor,
        view: raw.view,
    })
}

/// The project file's text (pretty JSON).
pub fn design_to_json(design: &Design) -> String {
    serde_json::to_string_pretty(design).unwrap_or_else(|e| unreachable!("plain data: {e}"))
}

/// Writes `value` at a dotted path (`visual.alpha`, `temporal.frames`, `visual.color[1]`) of a
/// JSON tree, creating objects on the way. `Err` names the segment that does not exist.
fn set_path(
    root: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> Result<(), String> {
    let mut node = root;
    let segments: Vec<&str> = path.split('.').collect();
    for (k, seg) in segments.iter().enumerate() {
        let (name, index) = match seg.find('[') {
            Some(b) => {
                let idx = seg[b + 1..]
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .map_err(|_| format!("`{seg}` is not a valid index"))?;
                (&seg[..b], Some(idx))
            }
            None => (*seg, None),
        };
        let last = k + 1 == segments.len();
        let obj = node
            .as_object_mut()
            .ok_or_else(|| format!("`{name}` is not inside an object"))?;
        if last && index.is_none() {
            obj.insert(name.to_string(), value);
            return Ok(());
        }
        node = obj
            .entry(name.to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(i) = index {
            let arr = node
                .as_array_mut()
                .ok_or_else(|| format!("`{name}` is not a list"))?;
            let len = arr.len();
            node = arr
                .get_mut(i)
                .ok_or_else(|| format!("`{name}[{i}]` is past the end of a list of {len}"))?;
            if last {
                *node = value;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A spec with one field replaced, parsed back through core's own parser so the result is
/// exactly what `apply` and `run` would read (and a wrong value gets their message).
pub fn spec_with_field(
    spec: &AttackSpec,
    path: &str,
    value: serde_json::Value,
) -> Result<AttackSpec, SpecError> {
    let mut tree = serde_json::to_value(spec).map_err(|e| SpecError::new(path, e.to_string()))?;
    set_path(&mut tree, path, value).map_err(|m| SpecError::new(path, m))?;
    parse_value(tree)
}

/// An experiment spec's TOML with its `[attack]` replaced by `spec` (and the experiment's seed
/// set to the spec's, since the experiment's seed is the one a run uses). The result parses.
pub fn experiment_with_attack(text: &str, spec: &AttackSpec) -> Result<String, SpecError> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| SpecError::new("spec", format!("not valid TOML: {e}")))?;
    let mut attack = toml::Table::try_from(spec)
        .map_err(|e| SpecError::new("attack", format!("cannot write as TOML: {e}")))?;
    attack.remove("seed");
    table.insert("attack".into(), toml::Value::Table(attack));
    table.insert("seed".into(), toml::Value::Integer(spec.seed as i64));
    let out = toml::to_string(&table).map_err(|e| SpecError::new("spec", e.to_string()))?;
    super::experiment::parse_experiment(&out)?;
    Ok(out)
}

/// One change to a design. Panels send these; only [`Document::apply`] carries them out.
#[derive(Clone, Debug, PartialEq)]
pub enum DesignCommand {
    /// Replace the whole spec (a preset, a reset, a loaded spec file).
    SetSpec(AttackSpec),
    /// Choose the visual trigger (`None`: audio only).
    SetVisual(Option<VisualTrigger>),
    SetTemporal(TemporalSpec),
    SetAudio(Option<AudioTrigger>),
    SetSeed(u64),
    /// One parameter by its spec path (`visual.alpha`). `dragging` while a slider is held:
    /// consecutive drags of the same field make one undo step.
    SetField {
        path: String,
        value: serde_json::Value,
        dragging: bool,
    },
    SetPatch(Option<Painted>),
    /// An edit in the patch editor (a stroke, a fill, a resize, a new or picked patch): the
    /// design's patch becomes `patch` and the BadNets trigger pastes it (see [`spec_with_patch`]).
    /// `dragging` while a stroke is drawn: the whole stroke is one undo step.
    EditPatch {
        patch: Painted,
        /// Also place it here (a picked object left where it was).
        at: Option<[u32; 2]>,
        /// A new patch: the spec's size becomes the pixels' size even when it is unchanged.
        fit: bool,
        dragging: bool,
    },
    AddClip(ClipRef),
    RemoveClip(String),
    AddDataset(PathBuf),
    /// Closes a dataset folder (an undo step; undo opens it again).
    RemoveDataset(PathBuf),
    /// Not undo steps: where the user is and how they look.
    Select(Option<String>),
    SetCursor(usize),
    SetView(ViewSettings),
}

fn check_patch(p: &Painted) -> Result<(), SpecError> {
    if p.width == 0 || p.height == 0 {
        return Err(SpecError::new("patch", "a patch needs at least 1×1 pixels"));
    }
    if p.rgba.len() != p.width as usize * p.height as usize * 4 {
        return Err(SpecError::new(
            "patch.rgba",
            format!(
                "{} bytes do not make a {}×{} RGBA patch",
                p.rgba.len(),
                p.width,
                p.height
            ),
        ));
    }
    Ok(())
}

/// `spec` with its BadNets trigger pasting `patch` (the visual trigger becomes BadNets if it was
/// another; BadNets' other settings are kept). The spec's patch size follows the pixels when
/// `fit`, when their size changed, or when the source was another; otherwise it stays (a patch
/// the user scaled on the canvas stays scaled while they paint it). `at` also places it. A
/// per-frame variation a painted patch cannot have (noise re-seeding) is dropped. Pure, so the
/// editor can check an edit against the frame before sending it.
pub fn spec_with_patch(
    spec: &AttackSpec,
    patch: &Painted,
    at: Option<[u32; 2]>,
    fit: bool,
) -> Result<AttackSpec, SpecError> {
    use super::trigger::patch::{Anchor, PatchSize};
    check_patch(patch)?;
    let mut spec = spec.clone();
    let mut b = match spec.visual.take() {
        Some(VisualTrigger::Badnets(b)) => b,
        _ => Default::default(),
    };
    let same_pixels = b
        .painted
        .as_ref()
        .is_some_and(|old| (old.width, old.height) == (patch.width, patch.height));
    if fit || !same_pixels {
        b.size = if patch.width == patch.height {
            PatchSize::Square(patch.width)
        } else {
            PatchSize::Rect([patch.width, patch.height])
        };
    }
    b.color = None;
    b.checkerboard = None;
    b.noise = None;
    b.image = None;
    b.painted = Some(patch.clone());
    if let Some([x, y]) = at {
        b.anchor = Anchor::At { x, y };
        b.margin = 0;
    }
    spec.visual = Some(VisualTrigger::Badnets(b));
    if spec.temporal.mode == super::placement::Mode::Dynamic
        && spec.temporal.variation.as_ref().is_some_and(|v| {
            // What a painted patch can do per frame: move.
            !matches!(
                v,
                Variation::PositionRandom
                    | Variation::PositionPath
                    | Variation::PositionKeyframes { .. }
            )
        })
    {
        spec.temporal.variation = None;
    }
    spec.validate()?;
    Ok(spec)
}

/// What an undo step restores.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub spec: AttackSpec,
    pub patch: Option<Painted>,
    pub library: Vec<ClipRef>,
    pub datasets: Vec<PathBuf>,
}

/// Undo and redo stacks of snapshots (the shape of egui's `Undoer`, with steps delimited by
/// gestures instead of by time, so a step is exactly one edit or one drag).
#[derive(Clone, Debug)]
pub struct History<T> {
    undo: Vec<T>,
    redo: Vec<T>,
    /// The field a drag in progress is editing: further edits of it join the open step.
    open: Option<String>,
    max: usize,
}

impl<T: Clone + PartialEq> History<T> {
    pub fn new(max: usize) -> Self {
        History {
            undo: Vec::new(),
            redo: Vec::new(),
            open: None,
            max: max.max(1),
        }
    }

    /// Records `before` as an undo point ahead of an edit, unless the edit continues the drag of
    /// `gesture` already recorded.
    pub fn record(&mut self, before: &T, gesture: Option<&str>) {
        let continues = gesture.is_some() && self.open.as_deref() == gesture;
        self.open = gesture.map(str::to_string);
        if continues {
            return;
        }
        if self.undo.last() != Some(before) {
            self.undo.push(before.clone());
            if self.undo.len() > self.max {
                self.undo.remove(0);
            }
        }
        self.redo.clear();
    }

    /// Ends the drag in progress (the pointer was released).
    pub fn end_gesture(&mut self) {
        self.open = None;
    }

    pub fn undo(&mut self, current: &T) -> Option<T> {
        self.open = None;
        let prev = self.undo.pop()?;
        self.redo.push(current.clone());
        Some(prev)
    }

    pub fn redo(&mut self, current: &T) -> Option<T> {
        self.open = None;
        let next = self.redo.pop()?;
        self.undo.push(current.clone());
        Some(next)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
}

/// A design with its history and revision: the studio's document.
#[derive(Clone, Debug)]
pub struct Document {
    design: Design,
    history: History<Snapshot>,
    revision: u64,
    /// The revision last saved (or opened); differs from `revision` when there is unsaved work.
    saved_revision: u64,
    /// Changes that are not undo steps (cursor, view) since the last save.
    minor_changes: u64,
    saved_minor: u64,
}

impl Default for Document {
    fn default() -> Self {
        Document::new(Design::default())
    }
}

impl Document {
    pub fn new(design: Design) -> Self {
        Document {
            design,
            history: History::new(200),
            revision: 1,
            saved_revision: 1,
            minor_changes: 0,
            saved_minor: 0,
        }
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    /// Bumped by every change to what triggers compute (spec, patch, library), undo and redo
    /// included; previews, thumbnails and metrics are keyed by it.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether anything changed since the last [`Document::mark_saved`].
    pub fn dirty(&self) -> bool {
        self.revision != self.saved_revision || self.minor_changes != self.saved_minor
    }

    /// Whether edits (not just the view) changed since the last save.
    pub fn edited_since_save(&self) -> bool {
        self.revision != self.saved_revision
    }

    pub fn mark_saved(&mut self) {
        self.saved_revision = self.revision;
        self.saved_minor = self.minor_changes;
    }

    /// Replaces the whole design (a project opened); the history starts afresh.
    pub fn replace(&mut self, design: Design) {
        self.design = design;
        self.history = History::new(200);
        self.revision += 1;
        self.mark_saved();
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            spec: self.design.spec.clone(),
            patch: self.design.patch.clone(),
            library: self.design.library.clone(),
            datasets: self.design.datasets.clone(),
        }
    }

    fn restore(&mut self, s: Snapshot) {
        self.design.spec = s.spec;
        self.design.patch = s.patch;
        self.design.library = s.library;
        self.design.datasets = s.datasets;
        self.revision += 1;
    }

    /// Carries out one command. `Err` (nothing changed) names the field core refused and why.
    /// `Ok(true)` when the design changed.
    pub fn apply(&mut self, cmd: DesignCommand) -> Result<bool, SpecError> {
        use DesignCommand as C;
        let mut next = self.snapshot();
        let mut gesture = None;
        match cmd {
            C::Select(id) => return Ok(self.minor(|d| d.selected = id)),
            C::SetCursor(i) => return Ok(self.minor(|d| d.cursor = i)),
            C::SetView(v) => return Ok(self.minor(|d| d.view = v)),
            C::SetSpec(spec) => {
                spec.validate()?;
                next.spec = spec;
            }
            C::SetVisual(v) => {
                next.spec.visual = v;
                if let Some(v) = &next.spec.visual
                    && v.is_temporal_already()
                {
                    // Static/dynamic does not apply to natural or temporal triggers.
                    next.spec.temporal.mode = super::placement::Mode::Static;
                    next.spec.temporal.variation = None;
                }
                next.spec.validate()?;
            }
            C::SetTemporal(t) => {
                next.spec.temporal = t;
                next.spec.validate()?;
            }
            C::SetAudio(a) => {
                next.spec.audio = a;
                next.spec.validate()?;
            }
            C::SetSeed(s) => next.spec.seed = s,
            C::SetField {
                path,
                value,
                dragging,
            } => {
                next.spec = spec_with_field(&next.spec, &path, value)?;
                if dragging {
                    gesture = Some(path);
                }
            }
            C::SetPatch(p) => {
                if let Some(p) = &p
                    && p.rgba.len() != p.width as usize * p.height as usize * 4
                {
                    return Err(SpecError::new(
                        "patch",
                        "pixel data does not match its size",
                    ));
                }
                next.patch = p;
            }
            C::EditPatch {
                patch,
                at,
                fit,
                dragging,
            } => {
                next.spec = spec_with_patch(&next.spec, &patch, at, fit)?;
                next.patch = Some(patch);
                if dragging {
                    gesture = Some("patch".to_string());
                }
            }
            C::AddClip(c) => {
                if next.library.contains(&c) {
                    return Ok(false);
                }
                next.library.push(c);
            }
            C::RemoveClip(id) => next.library.retain(|c| c.id() != id),
            C::AddDataset(p) => {
                if next.datasets.contains(&p) {
                    return Ok(false);
                }
                next.datasets.push(p);
            }
            C::RemoveDataset(p) => next.datasets.retain(|d| *d != p),
        }
        let current = self.snapshot();
        if next == current {
            return Ok(false);
        }
        self.history.record(&current, gesture.as_deref());
        self.restore(next);
        Ok(true)
    }

    fn minor(&mut self, f: impl FnOnce(&mut Design)) -> bool {
        let before = self.design.clone();
        f(&mut self.design);
        let changed = before != self.design;
        if changed {
            self.minor_changes += 1;
        }
        changed
    }

    /// Ends a slider drag: the next edit starts a new undo step.
    pub fn end_gesture(&mut self) {
        self.history.end_gesture();
    }

    pub fn undo(&mut self) -> bool {
        let current = self.snapshot();
        match self.history.undo(&current) {
            Some(prev) => {
                self.restore(prev);
                true
            }
            None => false,
        }
    }

    pub fn redo(&mut self) -> bool {
        let current = self.snapshot();
        match self.history.redo(&current) {
            Some(next) => {
                self.restore(next);
                true
            }
            None => false,
        }
    }

    pub fn can_undo(&self) -> bool {
        self.history.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.history.can_redo()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alpha(doc: &Document) -> f64 {
        match &doc.design().spec.visual {
            Some(VisualTrigger::Blend(b)) => b.alpha,
            other => panic!("not blend: {other:?}"),
        }
    }

    fn blend_doc() -> Document {
        let mut doc = Document::default();
        doc.apply(DesignCommand::SetVisual(VisualTrigger::default_of("blend")))
            .expect("blend");
        doc
    }

    #[test]
    fn a_drag_is_one_undo_step_and_redo_restores_it() {
        let mut doc = blend_doc();
        let start = alpha(&doc);
        let rev = doc.revision();
        for a in [0.3, 0.4, 0.5] {
            let cmd = DesignCommand::SetField {
                path: "visual.alpha".into(),
                value: json!(a),
                dragging: true,
            };
            assert_eq!(doc.apply(cmd), Ok(true));
        }
        doc.end_gesture();
        assert_eq!(alpha(&doc), 0.5);
        assert!(doc.revision() > rev);
        assert!(doc.undo());
        assert_eq!(alpha(&doc), start, "the whole drag undone at once");
        assert!(doc.undo(), "the kind change is the step before");
        assert!(matches!(
            doc.design().spec.visual,
            Some(VisualTrigger::Badnets(_))
        ));
        assert!(doc.redo());
        assert!(doc.redo());
        assert_eq!(alpha(&doc), 0.5);
        assert!(!doc.redo());
    }

    #[test]
    fn separate_edits_of_one_field_are_separate_steps() {
        let mut doc = blend_doc();
        for a in [0.3, 0.4] {
            let cmd = DesignCommand::SetField {
                path: "visual.alpha".into(),
                value: json!(a),
                dragging: false,
            };
            doc.apply(cmd).expect("ok");
        }
        assert!(doc.undo());
        assert_eq!(alpha(&doc), 0.3);
    }

    #[test]
    fn a_value_core_cannot_parse_changes_nothing_and_names_the_field() {
        let mut doc = blend_doc();
        let rev = doc.revision();
        let e = doc
            .apply(DesignCommand::SetField {
                path: "visual.alpha".into(),
                value: json!("lots"),
                dragging: false,
            })
            .expect_err("a string is not an alpha");
        assert_eq!(e.field, "visual.alpha");
        assert_eq!(doc.revision(), rev);
        let e = doc
            .apply(DesignCommand::SetVisual(None))
            .expect_err("nothing left to trigger");
        assert_eq!(e.field, "visual");
    }

    #[test]
    fn cursor_and_view_are_saved_but_not_undone() {
        let mut doc = Document::default();
        let rev = doc.revision();
        assert!(doc.apply(DesignCommand::SetCursor(12)).expect("ok"));
        assert_eq!(doc.revision(), rev, "moving the playhead is not an edit");
        assert!(doc.dirty());
        assert!(!doc.undo());
        assert_eq!(doc.design().cursor, 12);
    }

    #[test]
    fn project_round_trips_and_errors_name_the_field() {
        let mut doc = blend_doc();
        doc.apply(DesignCommand::AddClip(ClipRef::File {
            path: "a.mp4".into(),
        }))
        .expect("ok");
        doc.apply(DesignCommand::Select(Some("file:a.mp4".into())))
            .expect("ok");
        doc.apply(DesignCommand::SetPatch(Some(Painted {
            width: 1,
            height: 1,
            rgba: vec![1, 2, 3, 4],
        })))
        .expect("ok");
        let text = design_to_json(doc.design());
        assert_eq!(&parse_design(&text).expect("parses"), doc.design());

        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["spec"]["visual"]["alpha"] = json!("x");
        let e = parse_design(&v.to_string()).expect_err("bad alpha");
        assert_eq!(e.field, "spec.visual.alpha");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["view"]["mode"] = json!("sideways");
        assert_eq!(
            parse_design(&v.to_string()).expect_err("bad").field,
            "view.mode"
        );
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["patch"]["rgba"] = json!([1, 2]);
        assert_eq!(
            parse_design(&v.to_string()).expect_err("bad").field,
            "patch.rgba"
        );
        assert_eq!(
            parse_design("{\"version\": 1").expect_err("bad").field,
            "project"
        );
    }

    #[test]
    fn use_in_experiment_replaces_the_attack() {
        let text = "version = 1\nname = \"x\"\nseed = 0\nepochs = 1\n[dataset]\nsynth = { classes = 2, per_class = 2 }\nframes = 4\nsize = 16\n[model]\nkind = \"r2plus1d_tiny\"\n[attack]\nvisual = { kind = \"sig\" }\n[poison]\ntarget = 0\nratio = 0.5\n";
        let mut spec = default_spec();
        spec.seed = 9;
        let out = experiment_with_attack(text, &spec).expect("fills");
        let parsed = super::super::experiment::parse_experiment(&out).expect("parses");
        assert!(matches!(
            parsed.attack.visual,
            Some(VisualTrigger::Badnets(_))
        ));
        assert_eq!(parsed.seed, 9);
    }

    #[test]
    fn set_path_reaches_list_elements() {
        let spec = default_spec();
        let s = spec_with_field(&spec, "visual.color", json!([10, 20, 30])).expect("colour");
        let s = spec_with_field(&s, "visual.color[1]", json!(99)).expect("one channel");
        match s.visual {
            Some(VisualTrigger::Badnets(b)) => assert_eq!(b.color, Some([10, 99, 30])),
            other => panic!("{other:?}"),
        }
        let e = spec_with_field(&spec, "visual.color[7]", json!(1)).expect_err("no such");
        assert_eq!(e.field, "visual.color[7]");
    }
}
