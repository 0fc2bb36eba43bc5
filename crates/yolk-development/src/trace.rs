//! The boot trace: every process's steps from `run/*_timing_{pid}.json` — the master's, and each
//! plugin's hooks in the agent and the workers — drawn as bars on one time axis in a
//! self-contained page (inline SVG, no script, no CDN).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use yolk_core::plugin::{BootStep, Timeline};

use crate::error::DevelopmentError;

/// The boot of one process.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessTrace {
    /// `master`, `agent`, or `application` for a worker or a single process.
    pub role: String,
    /// Its pid.
    pub pid: u32,
    /// When it began to boot (for the master: its boot, or its last reload), on the wall
    /// clock every process shares: the steps of all of them are drawn against it.
    pub booted_at: SystemTime,
    /// Its steps, in the order they ran.
    pub steps: Vec<BootStep>,
}

impl ProcessTrace {
    /// When its last step ended, in milliseconds since it began to boot.
    pub fn boot_ms(&self) -> f64 {
        self.steps.iter().map(BootStep::end_ms).fold(0.0, f64::max)
    }
}

/// Reads every `{master|agent|application}_timing_{pid}.json` under `run_dir`, the master
/// first, then the agent, then the workers by boot time; with `live_only`, only those of
/// processes still running (where that can be known: Linux's `/proc`).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(
///     dir.path().join("agent_timing_42.json"),
///     r#"{"booted_at_unix_ms": 1700000000000,
///         "steps": [{"plugin":"watcher","hook":"did_load","start_ms":1.0,"duration_ms":2.5}]}"#,
/// ).unwrap();
/// let traces = yolk_development::read_traces(dir.path(), false).unwrap();
/// assert_eq!(traces[0].pid, 42);
/// assert_eq!(traces[0].steps[0].end_ms(), 3.5);
/// ```
///
/// # Errors
///
/// [`DevelopmentError::Io`] when the directory cannot be read, [`DevelopmentError::Timing`]
/// naming a file that is not a timing list. A missing directory is no process.
pub fn read_traces(run_dir: &Path, live_only: bool) -> Result<Vec<ProcessTrace>, DevelopmentError> {
    let entries = match std::fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DevelopmentError::Io {
                path: run_dir.to_owned(),
                source,
            });
        }
    };
    let mut traces = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some((role, pid)) = parse_name(&path) else {
            continue;
        };
        if live_only && !is_alive(pid) {
            continue;
        }
        let io = |source| DevelopmentError::Io {
            path: path.clone(),
            source,
        };
        let text = std::fs::read(&path).map_err(io)?;
        let timeline: Timeline =
            serde_json::from_slice(&text).map_err(|source| DevelopmentError::Timing {
                path: path.clone(),
                source,
            })?;
        traces.push(ProcessTrace {
            role,
            pid,
            booted_at: timeline.booted_at(),
            steps: timeline.steps,
        });
    }
    traces.sort_by_key(|trace| (rank(&trace.role), trace.booted_at, trace.pid));
    Ok(traces)
}

/// The roles whose timings are drawn, in the order their rows come.
const ROLES: [&str; 3] = ["master", "agent", "application"];

fn rank(role: &str) -> usize {
    ROLES
        .iter()
        .position(|known| *known == role)
        .unwrap_or(ROLES.len())
}

fn parse_name(path: &Path) -> Option<(String, u32)> {
    let name = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let (role, pid) = name.split_once("_timing_")?;
    if !ROLES.contains(&role) {
        return None;
    }
    Some((role.to_owned(), pid.parse().ok()?))
}

/// How a process is named on the page.
fn label(trace: &ProcessTrace) -> String {
    let role = match trace.role.as_str() {
        "application" => "worker",
        role => role,
    };
    format!("{role} {}", trace.pid)
}

fn is_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    !proc_root.is_dir() || proc_root.join(pid.to_string()).exists()
}

const ROW: f64 = 18.0;
const LABEL: f64 = 300.0;
const PLOT: f64 = 900.0;
const HOOKS: [(&str, &str); 13] = [
    ("bind_socket", "#343a40"),
    ("start_agent", "#7b2cbf"),
    ("start_workers", "#1d3557"),
    ("roll_workers", "#457b9d"),
    ("config_will_load", "#8ecae6"),
    ("configure", "#219ebc"),
    ("config_did_load", "#126782"),
    ("did_load", "#ffb703"),
    ("will_ready", "#fb8500"),
    ("did_ready", "#e76f51"),
    ("server_did_ready", "#2a9d8f"),
    ("agent", "#9b5de5"),
    ("before_close", "#6c757d"),
];

fn colour(hook: &str) -> &'static str {
    HOOKS
        .iter()
        .find(|(name, _)| *name == hook)
        .map_or("#adb5bd", |(_, colour)| colour)
}

fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_text(text)
}

/// Renders `traces` as one self-contained HTML page: a bar per hook per plugin per process on a
/// shared time axis, and the slowest steps.
///
/// ```
/// use std::time::SystemTime;
/// use yolk_core::plugin::BootStep;
/// use yolk_development::{ProcessTrace, render_trace};
///
/// let trace = ProcessTrace {
///     role: "application".into(),
///     pid: 7,
///     booted_at: SystemTime::now(),
///     steps: vec![BootStep { plugin: "session".into(), hook: "did_load".into(), start_ms: 0.5, duration_ms: 12.0 }],
/// };
/// let page = render_trace(&[trace]);
/// assert!(page.contains("<svg"));
/// assert!(page.contains("session"));
/// assert!(!page.contains("<script"));
/// ```
pub fn render_trace(traces: &[ProcessTrace]) -> String {
    let origin = traces
        .iter()
        .map(|trace| trace.booted_at)
        .min()
        .unwrap_or(UNIX_EPOCH);
    let offset = |trace: &ProcessTrace| {
        trace
            .booted_at
            .duration_since(origin)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    };
    let span = traces
        .iter()
        .map(|trace| offset(trace) + trace.boot_ms())
        .fold(1.0, f64::max);
    let scale = PLOT / span;
    let tick = nice_tick(span / 8.0);

    let rows: usize = traces.iter().map(|trace| trace.steps.len() + 1).sum();
    let height = (rows as f64 + 2.0) * ROW;
    let width = LABEL + PLOT + 20.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="ui-monospace, monospace" font-size="11">"#
    );
    let mut t = 0.0;
    while t <= span {
        let x = LABEL + t * scale;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{ROW}" x2="{x:.1}" y2="{height}" stroke="#e9ecef"/><text x="{x:.1}" y="12" fill="#6c757d" text-anchor="middle">{t} ms</text>"##
        );
        t += tick;
    }
    let mut y = ROW * 1.5;
    for trace in traces {
        let base = offset(trace);
        let label = format!("{} · {:.1} ms", label(trace), trace.boot_ms());
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-weight="bold" fill="#212529">{}</text><line x1="{LABEL}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#212529" stroke-width="2"/>"##,
            y + 12.0,
            esc(&label),
            y + 9.0,
            LABEL + (base + trace.boot_ms()) * scale,
            y + 9.0
        );
        y += ROW;
        for step in &trace.steps {
            let x = LABEL + (base + step.start_ms) * scale;
            let w = (step.duration_ms * scale).max(1.0);
            let name = format!("{} · {}", step.plugin, step.hook);
            let _ = write!(
                svg,
                r##"<g><title>{} — {:.2} ms (from {:.2} ms)</title><text x="16" y="{:.1}" fill="#495057">{}</text><rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="2" fill="{}"/></g>"##,
                esc(&name),
                step.duration_ms,
                base + step.start_ms,
                y + 12.0,
                esc(&name),
                y + 3.0,
                ROW - 6.0,
                colour(&step.hook)
            );
            y += ROW;
        }
    }
    svg.push_str("</svg>");

    let mut slowest: Vec<(&ProcessTrace, &BootStep)> = traces
        .iter()
        .flat_map(|trace| trace.steps.iter().map(move |step| (trace, step)))
        .collect();
    slowest.sort_by(|a, b| b.1.duration_ms.total_cmp(&a.1.duration_ms));
    let mut table = String::new();
    for (trace, step) in slowest.iter().take(10) {
        let _ = write!(
            table,
            "<tr><td>{:.2} ms</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            step.duration_ms,
            label(trace),
            esc(&step.plugin),
            esc(&step.hook)
        );
    }
    let legend: String = HOOKS
        .iter()
        .map(|(hook, colour)| format!(r#"<span><i style="background:{colour}"></i>{hook}</span>"#))
        .collect();
    let body = if traces.is_empty() {
        "<p>No boot timings under <code>run/</code> yet: they are written as each process boots.</p>".to_owned()
    } else {
        format!(
            "<div class=legend>{legend}</div><div class=chart>{svg}</div><h2>Slowest steps</h2><table><tr><th>time</th><th>process</th><th>plugin</th><th>hook</th></tr>{table}</table>"
        )
    };
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Loader trace</title><style>
body{{font:14px system-ui,sans-serif;margin:24px;color:#212529}}h1{{font-size:20px}}h2{{font-size:16px;margin-top:24px}}
.chart{{overflow-x:auto;border:1px solid #dee2e6;border-radius:6px;padding:8px}}
.legend span{{margin-right:14px;font-size:12px}}.legend i{{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}}
table{{border-collapse:collapse}}td,th{{padding:4px 12px;border-bottom:1px solid #dee2e6;text-align:left;font-family:ui-monospace,monospace;font-size:12px}}
</style></head><body><h1>Loader trace</h1><p>The boot of every process — the master's steps, and each plugin's every lifecycle hook in the agent and the workers — on one time axis ({} processes, {span:.1} ms from the first start to the last ready).</p>{body}</body></html>"#,
        traces.len()
    )
}

/// A round tick step (1, 2 or 5 times a power of ten) near `raw` milliseconds.
fn nice_tick(raw: f64) -> f64 {
    let raw = raw.max(0.001);
    let power = 10f64.powf(raw.log10().floor());
    let unit = raw / power;
    let nice = if unit < 1.5 {
        1.0
    } else if unit < 3.5 {
        2.0
    } else if unit < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// `run/` under `base_dir`.
pub(crate) fn run_dir(base_dir: &Path) -> PathBuf {
    base_dir.join("run")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_and_other_files_skipped() {
        assert_eq!(
            parse_name(Path::new("run/application_timing_12.json")),
            Some(("application".to_owned(), 12))
        );
        assert_eq!(
            parse_name(Path::new("run/master_timing_3.json")),
            Some(("master".to_owned(), 3))
        );
        assert_eq!(parse_name(Path::new("run/application_config.json")), None);
        assert_eq!(parse_name(Path::new("run/master_timing_x.json")), None);
        assert_eq!(parse_name(Path::new("run/other_timing_4.json")), None);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_tick(13.0), 10.0);
        assert_eq!(nice_tick(0.3), 0.2);
        assert_eq!(nice_tick(40.0), 50.0);
    }

    #[test]
    fn a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent_timing_1.json"), "{}").unwrap();
        let error = read_traces(dir.path(), false).unwrap_err().to_string();
        assert!(error.contains("agent_timing_1.json"), "{error}");
    }

    #[test]
    fn each_process_sits_at_its_own_boot_time_on_the_shared_axis() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, booted: u64, hook: &str, duration: f64| {
            let steps = format!(
                r#"[{{"plugin":"p","hook":"{hook}","start_ms":0.0,"duration_ms":{duration}}}]"#
            );
            let json = format!(r#"{{"booted_at_unix_ms":{booted},"steps":{steps}}}"#);
            std::fs::write(dir.path().join(name), json).unwrap();
        };
        write("application_timing_9.json", 1_000_100, "did_load", 50.0);
        write("master_timing_7.json", 1_000_000, "start_workers", 200.0);
        let traces = read_traces(dir.path(), false).unwrap();
        assert_eq!(
            traces.iter().map(label).collect::<Vec<_>>(),
            ["master 7", "worker 9"]
        );
        // 200 ms span over the plot's 900 px: the worker's step, 100 ms after the master's
        // boot, starts 450 px into the plot.
        let page = render_trace(&traces);
        assert!(page.contains(r#"<rect x="300.0" y="#), "{page}");
        assert!(page.contains(r#"<rect x="750.0" y="#), "{page}");
    }

    #[test]
    fn names_are_escaped() {
        let trace = ProcessTrace {
            role: "agent".into(),
            pid: 1,
            booted_at: UNIX_EPOCH,
            steps: vec![BootStep {
                plugin: "<b>".into(),
                hook: "agent".into(),
                start_ms: 0.0,
                duration_ms: 1.0,
            }],
        };
        let page = render_trace(&[trace]);
        assert!(!page.contains("<b>"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
