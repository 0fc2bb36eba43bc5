//! The project's tasks, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! One module per task:
//! - [`test_all`]: the gate CI runs — fmt, clippy, tests, doc tests, docs, every binary and example builds.
//! - [`bench`](mod@bench): release-build load tests of yolk against bare axum on 127.0.0.1.
//! - [`fuzz`]: the fuzz targets, each for a bounded time (libFuzzer, no cargo-fuzz needed).
//! - [`screenshot`]: headless-Chromium screenshots of yolk-onerror's developer error page.
//! - [`dev_e2e`]: the end-to-end test of `cargo yolk dev` on a copy of examples/hello.
//!
//! xtask depends on `std` only so that it builds in seconds on a fresh machine. Cargo is invoked
//! through the `CARGO` variable that `cargo run` sets, so the same toolchain runs every step.

mod bench;
mod dev_e2e;
mod fuzz;
mod screenshot;
mod test_all;

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "\
Usage: cargo xtask <task> [options]

Tasks:
  test-all   fmt, clippy, tests, doc tests and a build of every binary and example
  bench      requests/s of a hello route on bare axum vs yolk (release builds)
  fuzz       the fuzz targets, each for a bounded time (default 60 s)
  screenshot the developer error page in headless Chromium, saved to target/screenshots/
  dev-e2e    the end-to-end test of `cargo yolk dev` (builds a copy of examples/hello)
  help       this message

Run `cargo xtask <task> --help` for a task's options.";

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("test-all") => test_all::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("screenshot") => screenshot::run(&rest),
        Some("dev-e2e") => dev_e2e::run(&rest),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
        None => {
            eprintln!("{USAGE}");
            Err(String::new())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // An empty message: the task has already said what failed.
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo that runs this task (`CARGO`, set by `cargo run`), or `cargo` from `PATH`.
fn cargo_path() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A `cargo` command with the given arguments, run from the workspace root.
fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(cargo_path());
    cmd.args(args).current_dir(project_root());
    cmd
}

/// Reads the value following a `--flag`, or fails with a message naming the flag.
fn flag_value<'a>(
    flag: &str,
    args: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a str, String> {
    args.next()
        .map(String::as_str)
        .ok_or_else(|| format!("`{flag}` needs a value"))
}

/// Parses the value following a numeric `--flag`.
fn flag_number<'a, T: std::str::FromStr>(
    flag: &str,
    args: &mut impl Iterator<Item = &'a String>,
) -> Result<T, String> {
    let value = flag_value(flag, args)?;
    value
        .parse()
        .map_err(|_| format!("`{flag}` expects a number, got `{value}`"))
}

/// The workspace's target directory, as cargo resolves it (env, config or default).
pub(crate) fn target_dir() -> Result<PathBuf, String> {
    let output = crate::cargo(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed ({})", output.status));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    json_string(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata printed no target_directory".to_owned())
}

/// The string after `"key":` in JSON, with `\\` and `\"` unescaped (enough for a path).
fn json_string(json: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let mut chars = json[start..].trim_start().strip_prefix('"')?.chars();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_target_directory() {
        let json = r#"{"packages":[],"target_directory":"/a/b \"c\"\\d","version":1}"#;
        assert_eq!(
            json_string(json, "target_directory").as_deref(),
            Some(r#"/a/b "c"\d"#)
        );
        assert_eq!(json_string(json, "missing"), None);
    }
}
