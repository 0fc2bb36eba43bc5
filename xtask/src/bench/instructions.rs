//! `cargo xtask bench --instructions`: user-space instructions per request of each server,
//! counted by valgrind's callgrind.
//!
//! Requests/s on a small shared machine moves by several per cent from run to run; the
//! instructions a server executes per request do not (they vary by well under 1 %). Each
//! server runs under callgrind with instrumentation off; after a warm-up load it is switched
//! on for one load run, then dumped, and the dump's total is divided by the responses of that
//! run. Kernel time (the sockets) is not counted, so the ratio shows the code's own cost, not
//! the whole request's: a 10 % instruction ratio is a far smaller requests/s ratio.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Launch, Options, Suite, has_tool, run_load, start_server};

/// Load run before counting, so that lazy set-up and caches are not counted.
const WARM_UP: Duration = Duration::from_millis(1000);

/// Runs every suite's servers under callgrind; returns each suite's part of the closing line.
pub(super) fn run(
    suites: &[&'static Suite],
    bin_dir: &Path,
    options: &Options,
) -> Result<Vec<String>, String> {
    for tool in ["valgrind", "callgrind_control"] {
        if !has_tool(tool) {
            return Err(format!(
                "--instructions needs `{tool}` (Debian: apt-get install valgrind)"
            ));
        }
    }
    let dumps = bin_dir.join("bench-callgrind");
    std::fs::create_dir_all(&dumps)
        .map_err(|err| format!("cannot create {}: {err}", dumps.display()))?;
    let mut summaries = Vec::new();
    for suite in suites {
        println!(
            "\n==> bench suite `{}` (instructions): {} — {} ms counted after {} ms of warm-up, {} connection(s)",
            suite.name,
            suite.about,
            options.duration_ms,
            WARM_UP.as_millis(),
            options.connections
        );
        let mut rows = Vec::new();
        for spec in suite.servers {
            let per_request = count(suite, spec, bin_dir, &dumps, options)?;
            println!(
                "    {:<14} {per_request:>10.0} instructions/request",
                spec.name
            );
            rows.push((spec.name, per_request));
        }
        summaries.push(summary(suite, &rows)?);
    }
    let _ = std::fs::remove_dir_all(&dumps);
    Ok(summaries)
}

/// Instructions per request of one server of `suite`.
fn count(
    suite: &Suite,
    spec: &'static super::ServerSpec,
    bin_dir: &Path,
    dumps: &Path,
    options: &Options,
) -> Result<f64, String> {
    let out = dumps.join(spec.name);
    let mut server = start_server(spec, bin_dir, Launch::Callgrind(&out))?;
    let pid = server.process.child.id();
    let warm_up = Options {
        duration_ms: u64::try_from(WARM_UP.as_millis()).unwrap_or(u64::MAX),
        warmup_ms: 0,
        ..options.clone()
    };
    run_load(bin_dir, &mut server, suite.path, &warm_up)?;
    control(pid, "-i", "on")?;
    let counted = Options {
        warmup_ms: 0,
        ..options.clone()
    };
    let sample = run_load(bin_dir, &mut server, suite.path, &counted)?;
    control(pid, "-i", "off")?;
    control(pid, "-d", "")?;
    drop(server);
    // The explicit dump is the first: `<out>.<pid>.1`.
    let dump = out.with_file_name(format!("{}.{pid}.1", spec.name));
    let text = std::fs::read_to_string(&dump)
        .map_err(|err| format!("cannot read callgrind's dump {}: {err}", dump.display()))?;
    let total = totals(&text)
        .ok_or_else(|| format!("no `totals:` line in callgrind's dump {}", dump.display()))?;
    Ok(total / sample.answered)
}

/// `callgrind_control FLAG [VALUE] PID`.
fn control(pid: u32, flag: &str, value: &str) -> Result<(), String> {
    let mut command = Command::new("callgrind_control");
    command.arg(flag);
    if !value.is_empty() {
        command.arg(value);
    }
    let status = command
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run callgrind_control: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "callgrind_control {flag} {value} {pid} failed ({status})"
        ))
    }
}

/// The number on a callgrind dump's `totals:` line.
fn totals(dump: &str) -> Option<f64> {
    dump.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|total| total.trim().parse().ok())
}

/// Prints the suite's table; returns `hello (instructions): bare_axum 12780/req (baseline),
/// yolk_core 14299/req = 1.119x`.
fn summary(suite: &Suite, rows: &[(&str, f64)]) -> Result<String, String> {
    let baseline = rows[suite.baseline_index()?].1;
    println!(
        "\nbench `{}` (instructions per request, user space)",
        suite.name
    );
    println!(
        "{:<14} {:>14} {:>14}",
        "server",
        "instr/req",
        format!("vs {}", suite.baseline)
    );
    let parts: Vec<String> = rows
        .iter()
        .map(|(name, per_request)| {
            println!(
                "{name:<14} {per_request:>14.0} {:>14.3}",
                per_request / baseline
            );
            if *name == suite.baseline {
                format!("{name} {per_request:.0}/req (baseline)")
            } else {
                format!(
                    "{name} {per_request:.0}/req = {:.3}x",
                    per_request / baseline
                )
            }
        })
        .collect();
    Ok(format!(
        "{} (instructions): {}",
        suite.name,
        parts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line() {
        assert_eq!(
            totals("events: Ir\nsummary: 0\ntotals: 415140029\n"),
            Some(415_140_029.0)
        );
        assert_eq!(totals("events: Ir\n"), None);
    }
}
