//! The Experiments tab's run form: the few settings a run is mostly about (dataset, model,
//! epochs, ρ, target, modality, device) read from the spec's TOML and written back into it in
//! place (`toml_edit` keeps the user's comments, order and formatting), each edit checked by the
//! spec's own parser so a refused value names its field and leaves the text as it was.

use super::experiment::{ExperimentSpec, parse_experiment};
use super::spec_error::SpecError;
use toml_edit::{DocumentMut, Item, Value};

/// The spec text with the dotted `path` (`poison.ratio`, `model.kind`, `epochs`) set to
/// `value`; tables on the way are made as needed. The result parses as an experiment.
pub fn with_setting(text: &str, path: &str, value: Value) -> Result<String, SpecError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| SpecError::new("spec", format!("not valid TOML: {e}")))?;
    let keys: Vec<&str> = path.split('.').collect();
    let (last, tables) = keys
        .split_last()
        .ok_or_else(|| SpecError::new(path, "an empty setting name"))?;
    let mut node: &mut Item = doc.as_item_mut();
    for k in tables {
        let table = node
            .as_table_like_mut()
            .ok_or_else(|| SpecError::new(path, format!("`{k}` is not inside a table")))?;
        if table.get(k).is_none() {
            table.insert(k, Item::Table(toml_edit::Table::new()));
        }
        node = table
            .get_mut(k)
            .ok_or_else(|| SpecError::new(path, format!("no table `{k}`")))?;
    }
    let table = node
        .as_table_like_mut()
        .ok_or_else(|| SpecError::new(path, "not inside a table"))?;
    // Keep the comment that followed the old value on its line.
    let decor = table
        .get(last)
        .and_then(Item::as_value)
        .map(|v| v.decor().clone());
    let mut value = value;
    if let Some(d) = decor {
        *value.decor_mut() = d;
    }
    table.insert(last, Item::Value(value));
    let out = doc.to_string();
    parse_experiment(&out)?;
    Ok(out)
}

/// What the form shows of a spec.
pub fn dataset_summary(spec: &ExperimentSpec) -> String {
    let d = &spec.dataset;
    match (&d.synth, &d.path) {
        (Some(s), _) => format!(
            "SynthMotion · {} classes × {} clips · {} frames at {}²",
            s.classes, s.per_class, d.frames, d.size
        ),
        (None, Some(p)) => format!("{} · {} frames at {}²", p.display(), d.frames, d.size),
        (None, None) => "no dataset".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"# my experiment
version = 1
name = "mine"
epochs = 3 # short on purpose
[dataset]
synth = { classes = 3, per_class = 8 }
[model]
kind = "r2plus1d_tiny"
[attack]
visual = { kind = "badnets", size = 6 }
[poison]
target = "MoveLeft"
ratio = 0.1
"#;

    #[test]
    fn a_setting_is_written_in_place_keeping_the_comments() {
        let out = with_setting(SPEC, "epochs", Value::from(12)).expect("epochs");
        assert!(out.starts_with("# my experiment\n"), "{out}");
        assert!(out.contains("epochs = 12 # short on purpose"), "{out}");
        let spec = parse_experiment(&out).expect("parses");
        assert_eq!(spec.epochs, 12);
        let out = with_setting(&out, "poison.ratio", Value::from(0.25)).expect("ratio");
        assert_eq!(parse_experiment(&out).expect("parses").poison.ratio, 0.25);
        let out = with_setting(&out, "model.kind", Value::from("tsm_tiny")).expect("model");
        assert!(out.contains("kind = \"tsm_tiny\""), "{out}");
        // A table that is not there yet is made.
        let out = with_setting(&out, "optimizer.lr", Value::from(0.002)).expect("lr");
        assert_eq!(parse_experiment(&out).expect("parses").optimizer.lr, 0.002);
    }

    #[test]
    fn a_value_the_spec_refuses_names_its_field() {
        let e = with_setting(SPEC, "poison.ratio", Value::from(1.5)).expect_err("ρ 1.5");
        assert!(e.to_string().contains("ratio"), "{e}");
        let e = with_setting(SPEC, "model.kind", Value::from("resnet")).expect_err("no such");
        assert!(e.to_string().contains("model"), "{e}");
        assert!(with_setting("not = [toml", "epochs", Value::from(1)).is_err());
    }
}
