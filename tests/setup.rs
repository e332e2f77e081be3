//! scripts/setup.sh: reports exactly what to install where it cannot install, and finds
//! everything present on a set-up machine (make test runs setup before the tests).

use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/setup.sh");

#[test]
fn without_apt_it_lists_the_packages_and_fails() {
    // A PATH with nothing on it: no dpkg-query, no apt-get, as on a non-Debian system.
    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new("/bin/bash")
        .arg(SCRIPT)
        .env("PATH", empty.path())
        .output()
        .expect("run setup.sh");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a Debian/Ubuntu system"), "{err}");
    for pkg in [
        "libavcodec-dev",
        "libasound2-dev",
        "clang",
        "ffmpeg",
        "xvfb",
        "mesa-vulkan-drivers",
    ] {
        assert!(err.contains(pkg), "{pkg} missing from: {err}");
    }
}

#[test]
fn check_mode_finds_everything_present_and_installs_nothing() {
    let out = Command::new("/bin/bash")
        .args([SCRIPT, "--check"])
        .output()
        .expect("run setup.sh --check");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("packages present"), "{stdout}");
    assert!(!stdout.contains("installing"), "{stdout}");
}
