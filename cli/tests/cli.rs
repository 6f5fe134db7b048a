//! Black-box tests of the `nudge` binary: exit codes, output formats,
//! `init`, and bad input (never a panic, never a hang).

// A failing test reports by panicking.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn nudge(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run nudge: {e}"))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh empty folder under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn help_and_version() {
    let dir = scratch("help");
    let help = nudge(&["--help"], &dir);
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("check"), "{}", stdout(&help));
    assert!(stdout(&help).contains("init"));
    let version = nudge(&["--version"], &dir);
    assert_eq!(code(&version), 0);
    assert_eq!(
        stdout(&version).trim(),
        format!("nudge {}", env!("CARGO_PKG_VERSION"))
    );
    let check_help = nudge(&["check", "--help"], &dir);
    assert!(stdout(&check_help).contains("--format"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch("usage");
    assert_eq!(code(&nudge(&["frobnicate"], &dir)), 2);
    assert_eq!(code(&nudge(&["check", "--format", "xml"], &dir)), 2);
    assert_eq!(code(&nudge(&[], &dir)), 2);
}

#[test]
fn nonexistent_path_exits_2_with_message() {
    let dir = scratch("nonexistent");
    let out = nudge(&["check", "no/such/place.flow"], &dir);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no/such/place.flow: no such file or folder"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn folder_without_manifest_exits_2() {
    let dir = scratch("nomanifest");
    let out = nudge(&["check", "."], &dir);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no nudge.toml"), "{}", stderr(&out));
}

#[test]
fn other_file_kinds_exit_2() {
    let dir = scratch("otherkind");
    write(&dir.join("notes.txt"), b"hello");
    assert_eq!(code(&nudge(&["check", "notes.txt"], &dir)), 2);
}

/// `nudge build -o` makes a missing folder, replaces an old bundle whole
/// (written beside it and renamed: no half-written bundle, no scratch file
/// left), and reports an output it cannot write with exit 2.
#[test]
fn build_output_is_written_whole_into_a_folder_it_makes() {
    let dir = scratch("buildout");
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
    let shop = shop.to_string_lossy();
    let out = nudge(&["build", &shop, "-o", "out/deep/shop.bundle"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bundle = dir.join("out/deep/shop.bundle");
    let first = std::fs::read(&bundle).unwrap_or_default();
    assert!(first.starts_with(b"NUDGEBC\0"));
    write(&bundle, b"an old, broken bundle");
    let out = nudge(&["build", &shop, "-o", "out/deep/shop.bundle"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(&bundle).unwrap_or_default(), first);
    let left: Vec<_> = std::fs::read_dir(dir.join("out/deep"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(left, ["shop.bundle"]);
    // A folder where the bundle should go.
    let out = nudge(&["build", &shop, "-o", "out"], &dir);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).starts_with("error: out: "), "{}", stderr(&out));
    let left = std::fs::read_dir(dir.join("out"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 1, "only `deep` is in out/");
}

#[test]
fn init_scaffolds_a_project_that_checks_clean() {
    let dir = scratch("init");
    let out = nudge(&["init", "shop"], &dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for file in [
        "shop/nudge.toml",
        "shop/flows/welcome.flow",
        "shop/templates/welcome.html",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let check = nudge(&["check", "shop"], &dir);
    assert_eq!(code(&check), 0, "{}{}", stdout(&check), stderr(&check));
    assert!(
        stdout(&check).contains("0 errors, 0 warnings in 1 file"),
        "{}",
        stdout(&check)
    );
    let strict = nudge(&["check", "--deny", "warnings", "shop"], &dir);
    assert_eq!(code(&strict), 0, "{}", stdout(&strict));
    // A second init refuses to overwrite.
    let again = nudge(&["init", "shop"], &dir);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("already exists"));
}

#[test]
fn empty_file_is_clean() {
    let dir = scratch("empty");
    write(&dir.join("empty.flow"), b"");
    let out = nudge(&["check", "empty.flow"], &dir);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("0 errors, 0 warnings in 1 file"));
}

#[test]
fn non_utf8_file_is_e0001_in_every_format() {
    let dir = scratch("nonutf8");
    write(&dir.join("bad.flow"), b"flow x {\n \xff\xfe }\n");
    let human = nudge(&["check", "bad.flow"], &dir);
    assert_eq!(code(&human), 1);
    assert!(stdout(&human).contains("E0001"), "{}", stdout(&human));
    assert!(stdout(&human).contains("this file is not valid UTF-8"));
    assert!(
        stdout(&human).contains("[bad.flow:2:2]"),
        "points at the invalid byte: {}",
        stdout(&human)
    );
    assert!(stdout(&human).contains("1 error, 0 warnings in 1 file"));

    let json = nudge(&["check", "--format", "json", "bad.flow"], &dir);
    assert_eq!(code(&json), 1);
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 1);
    let d = &lines[0];
    assert_eq!(d["code"], "E0001");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "bad.flow");
    assert_eq!(d["line"], 2);
    assert_eq!(d["column"], 2);
    assert_eq!(d["end"]["line"], 2);
    assert_eq!(d["end"]["column"], 3);
    assert_eq!(d["help"], "save the file as UTF-8");

    let github = nudge(&["check", "--format", "github", "bad.flow"], &dir);
    assert!(
        stdout(&github)
            .starts_with("::error file=bad.flow,line=2,col=2,endLine=2,endColumn=3,title=E0001::"),
        "{}",
        stdout(&github)
    );

    let sarif = nudge(&["check", "--format", "sarif", "bad.flow"], &dir);
    let log: serde_json::Value =
        serde_json::from_str(&stdout(&sarif)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"][0]["ruleId"], "E0001");
    let index = log["runs"][0]["results"][0]["ruleIndex"]
        .as_u64()
        .unwrap_or(u64::MAX) as usize;
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][index]["id"],
        "E0001"
    );
}

#[test]
fn bad_manifest_is_reported_with_a_snippet() {
    let dir = scratch("badmanifest");
    write(&dir.join("nudge.toml"), b"[project]\nnme = \"x\"\n");
    let out = nudge(&["check", "."], &dir);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("E0008"), "{text}");
    assert!(text.contains("nudge.toml:2:1"), "{text}");
    assert!(text.contains("did you mean `name`?"), "{text}");
}

#[test]
fn several_paths_are_each_checked_and_the_worst_exit_code_wins() {
    let dir = scratch("several");
    write(&dir.join("ok.flow"), b"");
    write(&dir.join("bad.flow"), b"\xff");
    let out = nudge(&["check", "--format", "json", "ok.flow", "bad.flow"], &dir);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out).lines().count(), 1);
    let missing = nudge(&["check", "bad.flow", "missing.flow"], &dir);
    assert_eq!(code(&missing), 2);
    assert!(
        stdout(&missing).contains("E0001"),
        "the readable path is still checked"
    );
}

#[test]
fn file_over_the_size_limit_is_e0002() {
    let dir = scratch("toolarge");
    write(&dir.join("big.flow"), &vec![b' '; 16 * 1024 * 1024 + 1]);
    let out = nudge(&["check", "--format", "json", "big.flow"], &dir);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("\"code\":\"E0002\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn ten_megabyte_file_finishes_quickly() {
    let dir = scratch("tenmb");
    let mut text = Vec::with_capacity(10 * 1024 * 1024);
    while text.len() < 10 * 1024 * 1024 {
        text.extend_from_slice(b"// a comment line to fill the file up\n");
    }
    write(&dir.join("big.flow"), &text);
    let start = Instant::now();
    let out = nudge(&["check", "big.flow"], &dir);
    assert!(code(&out) == 0 || code(&out) == 1, "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}
