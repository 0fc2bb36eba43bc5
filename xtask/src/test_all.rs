//! `cargo xtask test-all`: every check CI runs, in order, stopping at the first failure.
//!
//! Each step is one cargo command run from the workspace root with its output streamed through.
//! At the end a table lists every step with PASS, FAIL or skipped and its time, followed by the
//! closing line `test-all: N passed, M failed` (counting steps).

use std::env;
use std::io::IsTerminal;
use std::process::Command;
use std::time::{Duration, Instant};

const HELP: &str = "\
Usage: cargo xtask test-all [options]

Runs, from the workspace root, stopping at the first failure:
  fmt          cargo fmt --all -- --check
  clippy       cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
  test         cargo test --workspace --all-targets --locked
  doc-test     cargo test --workspace --doc --locked
  doc          cargo doc --workspace --lib --no-deps --locked (RUSTDOCFLAGS=-D warnings: no
               broken or redundant links)
  build        cargo build --workspace --examples --bins --locked

Options:
  --skip-fmt      do not run the fmt step
  --skip-clippy   do not run the clippy step
  -h, --help      this message

Environment: CARGO_TERM_COLOR is set (always on a terminal, never otherwise) unless already set;
the test steps get RUST_BACKTRACE=1 unless it is already set.";

/// One step: a name for the table and the cargo arguments it runs.
#[derive(Debug)]
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    /// Whether the step runs tests, and so gets `RUST_BACKTRACE`.
    runs_tests: bool,
    /// Environment variables the step sets.
    env: &'static [(&'static str, &'static str)],
}

/// The steps, in the order they run.
const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        args: &["fmt", "--all", "--", "--check"],
        runs_tests: false,
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        runs_tests: false,
        env: &[],
    },
    Step {
        name: "test",
        args: &["test", "--workspace", "--all-targets", "--locked"],
        runs_tests: true,
        env: &[],
    },
    Step {
        name: "doc-test",
        args: &["test", "--workspace", "--doc", "--locked"],
        runs_tests: true,
        env: &[],
    },
    Step {
        name: "doc",
        args: &["doc", "--workspace", "--lib", "--no-deps", "--locked"],
        runs_tests: false,
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    Step {
        name: "build",
        args: &["build", "--workspace", "--examples", "--bins", "--locked"],
        runs_tests: false,
        env: &[],
    },
];

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    /// Not run: turned off by an option, or an earlier step failed.
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skipped => "skipped",
        }
    }
}

/// Runs `test-all` with the arguments after the task name.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut skip: Vec<&str> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--skip-fmt" => skip.push("fmt"),
            "--skip-clippy" => skip.push("clippy"),
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}` for test-all\n\n{HELP}")),
        }
    }

    // Set per command rather than with `env::set_var` (which is `unsafe` in edition 2024).
    let color = env::var_os("CARGO_TERM_COLOR").is_none().then(|| {
        if std::io::stdout().is_terminal() {
            "always"
        } else {
            "never"
        }
    });
    run_steps(&skip, color)
}

fn run_steps(skip: &[&str], color: Option<&str>) -> Result<(), String> {
    let mut results: Vec<(&Step, Outcome, Duration)> = Vec::new();
    let mut failed = false;
    for step in STEPS {
        if failed || skip.contains(&step.name) {
            results.push((step, Outcome::Skipped, Duration::ZERO));
            continue;
        }
        println!(
            "\n==> test-all: {} (cargo {})",
            step.name,
            step.args.join(" ")
        );
        let mut cmd = crate::cargo(step.args);
        cmd.envs(step.env.iter().copied());
        if let Some(color) = color {
            cmd.env("CARGO_TERM_COLOR", color);
        }
        if step.runs_tests && env::var_os("RUST_BACKTRACE").is_none() {
            cmd.env("RUST_BACKTRACE", "1");
        }
        let started = Instant::now();
        let outcome = run_step(&mut cmd, step.name);
        let elapsed = started.elapsed();
        failed = outcome == Outcome::Fail;
        results.push((step, outcome, elapsed));
    }

    print_summary(&results);
    if failed {
        // The summary above is the report; keep the closing line last.
        Err(String::new())
    } else {
        Ok(())
    }
}

/// Runs one step's command, its output going straight to ours.
fn run_step(cmd: &mut Command, name: &str) -> Outcome {
    match cmd.status() {
        Ok(status) if status.success() => Outcome::Pass,
        Ok(status) => {
            eprintln!("test-all: step `{name}` failed ({status})");
            Outcome::Fail
        }
        Err(err) => {
            eprintln!("test-all: could not run step `{name}`: {err}");
            Outcome::Fail
        }
    }
}

/// Prints the table of steps and the closing `test-all: N passed, M failed` line.
fn print_summary(results: &[(&Step, Outcome, Duration)]) {
    let width = results
        .iter()
        .map(|(step, ..)| step.name.len())
        .max()
        .unwrap_or(4)
        .max("step".len());
    println!("\ntest-all summary");
    println!("{:<width$}  {:<7}  {:>8}", "step", "result", "seconds");
    println!("{}", "-".repeat(width + 2 + 7 + 2 + 8));
    for (step, outcome, elapsed) in results {
        let seconds = match outcome {
            Outcome::Skipped => "-".to_owned(),
            _ => format!("{:.1}", elapsed.as_secs_f64()),
        };
        println!(
            "{:<width$}  {:<7}  {:>8}",
            step.name,
            outcome.label(),
            seconds
        );
    }
    let total: Duration = results.iter().map(|(_, _, elapsed)| *elapsed).sum();
    println!(
        "{:<width$}  {:<7}  {:>8.1}",
        "total",
        "",
        total.as_secs_f64()
    );
    println!(
        "{}",
        closing_line(results.iter().map(|(_, outcome, _)| *outcome))
    );
}

fn closing_line(outcomes: impl Iterator<Item = Outcome>) -> String {
    let (mut passed, mut failed) = (0, 0);
    for outcome in outcomes {
        match outcome {
            Outcome::Pass => passed += 1,
            Outcome::Fail => failed += 1,
            Outcome::Skipped => {}
        }
    }
    format!("test-all: {passed} passed, {failed} failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_line_counts_steps_not_skips() {
        let line = closing_line(
            [
                Outcome::Pass,
                Outcome::Skipped,
                Outcome::Pass,
                Outcome::Fail,
                Outcome::Skipped,
            ]
            .into_iter(),
        );
        assert_eq!(line, "test-all: 2 passed, 1 failed");
    }

    #[test]
    fn step_names_are_unique_and_skip_flags_match() {
        let names: Vec<&str> = STEPS.iter().map(|step| step.name).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(name), "duplicate step {name}");
        }
        assert!(names.contains(&"fmt") && names.contains(&"clippy"));
    }

    #[test]
    fn every_cargo_step_is_locked_except_fmt() {
        for step in STEPS.iter().filter(|step| step.name != "fmt") {
            assert!(
                step.args.contains(&"--locked"),
                "{} is not --locked",
                step.name
            );
        }
    }
}
