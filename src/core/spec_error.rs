//! Errors in user-written specs: always name the field, so the user knows what to fix.

/// A spec value that cannot be used, with the dotted path of the field (e.g. `visual.size`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a float is finite and within `[lo, hi]`.
pub fn check_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), SpecError> {
    if !v.is_finite() {
        return Err(SpecError::new(field, format!("{v} is not a finite number")));
    }
    if v < lo || v > hi {
        return Err(SpecError::new(
            field,
            format!("{v} is outside the allowed range [{lo}, {hi}]"),
        ));
    }
    Ok(())
}

/// Checks a float is finite.
pub fn check_finite(field: &str, v: f64) -> Result<(), SpecError> {
    check_range(field, v, f64::NEG_INFINITY, f64::INFINITY)
        .map_err(|_| SpecError::new(field, format!("{v} is not a finite number")))
}
