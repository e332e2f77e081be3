//! Records the versions of the crates a run's results should name (read from Cargo.lock), so
//! results.json reports what was really built instead of a hand-kept string.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("candle-core", "TL_CANDLE_VERSION"),
        ("ffmpeg-next", "TL_FFMPEG_NEXT_VERSION"),
        ("egui", "TL_EGUI_VERSION"),
    ] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let v = lock
            .find(&needle)
            .map(|i| &lock[i + needle.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown");
        println!("cargo:rustc-env={var}={v}");
    }
}
