//! scripts/setup.sh, run against fake package tools: small bash scripts written into a temp dir
//! placed first on PATH (dpkg-query, apt-get, id, sudo, cargo) that record how they were called.
//! Hermetic: no network, no real apt.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/setup.sh");

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().expect("run bash");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes an executable bash script `name` into `dir`.
fn fake(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/bash\n{body}\n")).expect("write fake");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod fake");
}

/// `dir` first, then the real PATH (for bash, coreutils, sha256sum, unzip, dpkg-deb).
fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Lines a fake wrote to its log (none when it was never called).
fn log_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The words of a bash array assignment `NAME=(...)` in `script` (may span lines).
fn bash_array(script: &str, name: &str) -> Vec<String> {
    let start = script
        .find(&format!("\n{name}=("))
        .unwrap_or_else(|| panic!("{name}=( not found in the script"))
        + name.len()
        + 3;
    let len = script[start..]
        .find(')')
        .unwrap_or_else(|| panic!("{name}=( is not closed"));
    script[start..start + len]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Every package setup.sh knows, in its order (BUILD_PKGS then RUN_PKGS), read from the script.
fn all_packages() -> Vec<String> {
    let script = fs::read_to_string(SETUP).expect("read setup.sh");
    let mut pkgs = bash_array(&script, "BUILD_PKGS");
    pkgs.extend(bash_array(&script, "RUN_PKGS"));
    assert!(pkgs.len() >= 20, "parsed too few packages: {pkgs:?}");
    pkgs
}

/// A fake Debian machine for setup.sh: dpkg-query reports every package in `missing` as not
/// installed and all others as installed; apt-get, sudo and the sample fetch log their calls;
/// `id -u` says 1000, so installing goes through sudo.
struct FakeDebian {
    dir: tempfile::TempDir,
}

impl FakeDebian {
    fn new(missing: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).expect("bin dir");
        let log = dir.path().display().to_string();
        fake(
            &bin,
            "dpkg-query",
            &format!(
                "for p in {}; do [[ ${{@: -1}} == \"$p\" ]] && {{ echo \"dpkg-query: no packages found matching $p\" >&2; exit 1; }}; done\nprintf installed",
                if missing.is_empty() {
                    "''".to_owned()
                } else {
                    missing.join(" ")
                }
            ),
        );
        fake(
            &bin,
            "apt-get",
            &format!("echo \"$*\" >> {log}/apt-get.log"),
        );
        fake(
            &bin,
            "sudo",
            &format!("echo \"$*\" >> {log}/sudo.log\nexec \"$@\""),
        );
        fake(&bin, "id", "[[ $1 == -u ]] && echo 1000 || echo uid=1000");
        fake(&bin, "cargo", "exit 0");
        fake(&bin, "fetch-samples", &format!("touch {log}/fetched"));
        FakeDebian { dir }
    }

    fn setup(&self, args: &[&str]) -> Out {
        run(Command::new("/bin/bash")
            .arg(SETUP)
            .args(args)
            .env("PATH", path_with(&self.dir.path().join("bin")))
            .env(
                "TRIGGERLAB_FETCH_SAMPLES",
                self.dir.path().join("bin/fetch-samples"),
            ))
    }

    fn log(&self, name: &str) -> Vec<String> {
        log_lines(&self.dir.path().join(name))
    }

    fn fetched(&self) -> bool {
        self.dir.path().join("fetched").exists()
    }
}

#[test]
fn check_names_exactly_the_missing_packages_and_installs_nothing() {
    let fake = FakeDebian::new(&["libasound2-dev", "xauth"]);
    let out = fake.setup(&["--check"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("missing packages: libasound2-dev xauth (run scripts/setup.sh"),
        "{}",
        out.all()
    );
    assert!(
        fake.log("apt-get.log").is_empty(),
        "{:?}",
        fake.log("apt-get.log")
    );
    assert!(!fake.fetched(), "--check must not fetch the samples");
}

#[test]
fn install_updates_then_installs_exactly_the_missing_packages_with_sudo() {
    let fake = FakeDebian::new(&["libasound2-dev", "xauth"]);
    let out = fake.setup(&[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout.contains("installing libasound2-dev xauth"),
        "{}",
        out.all()
    );
    let apt = fake.log("apt-get.log");
    assert_eq!(
        apt,
        [
            "update -qq",
            "install -y -qq --no-install-recommends libasound2-dev xauth"
        ],
        "apt-get calls"
    );
    // Not root (fake id says 1000): both apt-get calls go through sudo.
    let sudo = fake.log("sudo.log");
    assert_eq!(sudo.len(), 2, "{sudo:?}");
    assert!(sudo.iter().all(|l| l.starts_with("apt-get ")), "{sudo:?}");
    assert!(fake.fetched(), "setup must run the sample fetch at its end");
}

#[test]
fn everything_installed_check_says_present_and_never_calls_apt() {
    let fake = FakeDebian::new(&[]);
    let out = fake.setup(&["--check"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout
            .contains(&format!("all {} packages present", all_packages().len())),
        "{}",
        out.all()
    );
    assert!(!out.stdout.contains("installing"), "{}", out.all());
    assert!(
        fake.log("apt-get.log").is_empty(),
        "{:?}",
        fake.log("apt-get.log")
    );

    // Without --check too: nothing to install, so no apt-get and no sudo; the samples are fetched.
    let out = fake.setup(&[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        fake.log("apt-get.log").is_empty(),
        "{:?}",
        fake.log("apt-get.log")
    );
    assert!(
        fake.log("sudo.log").is_empty(),
        "{:?}",
        fake.log("sudo.log")
    );
    assert!(fake.fetched());
}

#[test]
fn without_apt_it_prints_the_exact_package_list_and_fails() {
    // A PATH with nothing on it: no dpkg-query, no apt-get, as on a non-Debian system.
    let empty = tempfile::tempdir().expect("temp dir");
    let out = run(Command::new("/bin/bash")
        .arg(SETUP)
        .env("PATH", empty.path()));
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr.contains("not a Debian/Ubuntu system"),
        "{}",
        out.all()
    );
    let list = format!("  {}", all_packages().join(" "));
    assert!(
        out.stderr.lines().any(|l| l == list),
        "no line {list:?} in:\n{}",
        out.all()
    );
    // Spot-check the parse against names the build cannot do without.
    for p in [
        "libavcodec-dev",
        "clang",
        "ffmpeg",
        "xvfb",
        "mesa-vulkan-drivers",
    ] {
        assert!(list.split(' ').any(|x| x == p), "{p} not in {list}");
    }
}
