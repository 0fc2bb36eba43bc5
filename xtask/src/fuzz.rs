//! `cargo xtask fuzz`: runs the fuzz targets for a bounded time each.
//!
//! Each target is a cargo-fuzz crate (`crates/*/fuzz`, outside the workspace) built here
//! without cargo-fuzz: the sanitizer-coverage flags libFuzzer needs are passed to rustc, with
//! `RUSTC_BOOTSTRAP=1` so that a stable toolchain accepts them. The build goes to its own
//! target directory (`<target>/fuzz`) so it never invalidates the normal builds. A crash stops
//! the run with the target's name; its input is saved under the fuzz crate's `artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Fuzz targets: (fuzz crate, relative to the root; binary).
const TARGETS: &[(&str, &str)] = &[("crates/yolk-multipart/fuzz", "multipart")];

const RUSTFLAGS: &str = "-Cpasses=sancov-module \
     -Cllvm-args=-sanitizer-coverage-level=4 \
     -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
     -Cllvm-args=-sanitizer-coverage-pc-table \
     -Cllvm-args=-sanitizer-coverage-trace-compares \
     --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

const HELP: &str = "\
Usage: cargo xtask fuzz [options]

Builds every fuzz target with libFuzzer's coverage flags and runs each for a bounded time.

Options:
  --seconds S   time per target (default 60)
  --target T    only this target (default: all)
  -h, --help    this message";

/// Runs `fuzz` with the arguments after the task name.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds: u64 = 60;
    let mut only: Option<String> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => seconds = crate::flag_number(arg, &mut iter)?,
            "--target" => only = Some(crate::flag_value(arg, &mut iter)?.to_owned()),
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}` for fuzz\n\n{HELP}")),
        }
    }
    let root = crate::project_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fuzz");
    let mut ran = 0;
    for &(dir, bin) in TARGETS {
        if only.as_deref().is_some_and(|only| only != bin) {
            continue;
        }
        ran += 1;
        let crate_dir = root.join(dir);
        let triple = host_triple()?;
        build(&crate_dir, bin, &target_dir, &triple)?;
        let exe = target_dir.join(&triple).join("release").join(bin);
        fuzz(&crate_dir, bin, &exe, seconds)?;
    }
    if ran == 0 {
        return Err(format!("no fuzz target `{}`", only.unwrap_or_default()));
    }
    Ok(())
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|err| format!("cannot run rustc: {err}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV printed no host".to_owned())
}

/// Builds with an explicit `--target`, so that the coverage flags reach the target's code
/// and not the build scripts and proc macros.
fn build(crate_dir: &Path, bin: &str, target_dir: &Path, triple: &str) -> Result<(), String> {
    println!("==> fuzz: building {bin} ({})", crate_dir.display());
    let status = crate::cargo(["build", "--release", "--bin", bin, "--target", triple])
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building the fuzz target {bin} failed ({status})"))
    }
}

fn fuzz(crate_dir: &Path, bin: &str, exe: &Path, seconds: u64) -> Result<(), String> {
    let corpus = crate_dir.join("corpus").join(bin);
    let artifacts = crate_dir.join("artifacts").join(bin);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    println!("==> fuzz: running {bin} for {seconds} s");
    let status = Command::new(exe)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-timeout=10")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus)
        .status()
        .map_err(|err| format!("cannot run the fuzz target {bin}: {err}"))?;
    if status.success() {
        println!("==> fuzz: {bin}: no failure in {seconds} s");
        Ok(())
    } else {
        Err(format!(
            "fuzz target {bin} failed ({status}); the input is under {}",
            artifacts.display()
        ))
    }
}
