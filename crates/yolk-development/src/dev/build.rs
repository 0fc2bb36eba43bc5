//! `cargo build`, read through its JSON messages: the binary's path, and the compiler's
//! errors with their file and line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::DevError;

/// One compiler error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileError {
    /// The one-line message (`mismatched types`).
    pub message: String,
    /// The file of the primary span, as cargo names it.
    pub file: Option<String>,
    /// Its line, from 1.
    pub line: Option<u32>,
    /// Its column, from 1.
    pub column: Option<u32>,
    /// The whole diagnostic as the compiler renders it, with ANSI colours.
    pub rendered: String,
}

/// How a build went.
#[derive(Clone, Debug)]
pub struct BuildOutcome {
    /// The binary, when the build succeeded.
    pub exe: Option<PathBuf>,
    /// The errors, when it failed.
    pub errors: Vec<CompileError>,
    /// What cargo said outside the compiler's messages (on failure).
    pub cargo_output: String,
    /// How long it took.
    pub elapsed: Duration,
}

#[derive(Deserialize)]
struct Line {
    reason: String,
    #[serde(default)]
    message: Option<Diagnostic>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    target: Option<LineTarget>,
    #[serde(default)]
    success: Option<bool>,
}

#[derive(Deserialize)]
struct LineTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Diagnostic {
    message: String,
    level: String,
    #[serde(default)]
    rendered: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: u32,
    column_start: u32,
    is_primary: bool,
}

/// Builds `bin` of `package`; the compiler's messages go to `on_message` as they come (to show
/// them in the terminal, in colour).
pub(crate) fn build(
    cargo: &Path,
    dir: &Path,
    package: &str,
    bin: &str,
    mut on_message: impl FnMut(&str),
) -> Result<BuildOutcome, DevError> {
    let started = Instant::now();
    let mut child = Command::new(cargo)
        .args(["build", "--package", package, "--bin", bin])
        .arg("--message-format=json-diagnostic-rendered-ansi")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| DevError::Spawn {
            what: "cargo build".into(),
            source,
        })?;
    let stderr = child.stderr.take().expect("piped");
    let cargo_output = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut exe = None;
    let mut errors = Vec::new();
    let mut success = false;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(line) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        match line.reason.as_str() {
            "compiler-message" => {
                let Some(diagnostic) = line.message else {
                    continue;
                };
                if let Some(rendered) = &diagnostic.rendered
                    && matches!(diagnostic.level.as_str(), "error" | "warning")
                {
                    on_message(rendered);
                }
                if diagnostic.level.starts_with("error") {
                    let primary = diagnostic.spans.iter().find(|s| s.is_primary);
                    errors.push(CompileError {
                        message: diagnostic.message,
                        file: primary.map(|s| s.file_name.clone()),
                        line: primary.map(|s| s.line_start),
                        column: primary.map(|s| s.column_start),
                        rendered: diagnostic.rendered.unwrap_or_default(),
                    });
                }
            }
            "compiler-artifact" => {
                if let (Some(path), Some(target)) = (line.executable, line.target)
                    && target.name == bin
                    && target.kind.iter().any(|k| k == "bin")
                {
                    exe = Some(path);
                }
            }
            "build-finished" => success = line.success.unwrap_or(false),
            _ => {}
        }
    }
    let status = child.wait().map_err(|source| DevError::Spawn {
        what: "cargo build".into(),
        source,
    })?;
    let cargo_output = cargo_output.join().unwrap_or_default();
    let ok = success && status.success();
    Ok(BuildOutcome {
        exe: if ok { exe } else { None },
        errors,
        cargo_output: if ok { String::new() } else { cargo_output },
        elapsed: started.elapsed(),
    })
}

/// Text without ANSI escape sequences.
///
/// ```
/// assert_eq!(yolk_development::dev::strip_ansi("\u{1b}[1;31merror\u{1b}[0m: x"), "error: x");
/// ```
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
