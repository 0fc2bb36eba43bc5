//! `cargo yolk dev`: build the app, run it as a cluster, and on each change rebuild (sources)
//! or just reload (config), rolling the agent and the workers onto the new binary while the old
//! ones keep serving: the port never closes and no request is dropped.

mod build;
mod cluster;
mod project;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use yolk_watcher::{DevelopmentSource, Event, WatchOptions, Watcher};

pub use build::{BuildOutcome, CompileError, strip_ansi};
pub use project::Project;

use cluster::Cluster;

/// The options of `cargo yolk dev`.
#[derive(Clone, Debug, clap::Args)]
pub struct DevArgs {
    /// The app package. Default: the package in the current directory, or the workspace's
    /// only package with a binary.
    #[arg(long, short)]
    pub package: Option<String>,
    /// The binary. Default: the package's only binary, or the one named like the package.
    #[arg(long)]
    pub bin: Option<String>,
    /// The port. Default: 7001, or the next free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Workers. Default: 1.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// An extra directory to watch (repeatable).
    #[arg(long = "watch", value_name = "DIR")]
    pub watch: Vec<PathBuf>,
    /// A file or directory name to ignore wherever it appears (repeatable), added to
    /// `target`, `.git`, `run`, `logs` and `node_modules`.
    #[arg(long = "ignore", value_name = "NAME")]
    pub ignore: Vec<String>,
    /// How long the tree must be quiet before a rebuild starts, in milliseconds. Default: 200.
    #[arg(long, default_value_t = 200)]
    pub debounce_ms: u64,
}

/// What stops `cargo yolk dev`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// A program could not be started.
    #[error("cannot run {what}: {source}")]
    Spawn {
        /// What.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `cargo metadata` failed.
    #[error("cannot read the workspace with `cargo metadata`: {0}")]
    Metadata(String),
    /// No package to run.
    #[error(
        "no app package {}: run `cargo yolk dev` in the app's directory, or pass `--package NAME`",
        match asked { Some(name) => format!("named `{name}`"), None => format!("in `{}`", dir.display()) }
    )]
    NoPackage {
        /// The `--package` given.
        asked: Option<String>,
        /// The directory searched.
        dir: PathBuf,
    },
    /// The package has no such binary, or several to choose from.
    #[error(
        "package `{package}` has {}: pass `--bin` with one of {}",
        match asked { Some(bin) => format!("no binary `{bin}`"), None => "no single binary".to_owned() },
        if found.is_empty() { "(none: add a `src/main.rs`)".to_owned() } else { found.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ") }
    )]
    NoBinary {
        /// The package.
        package: String,
        /// The `--bin` given.
        asked: Option<String>,
        /// Its binaries.
        found: Vec<String>,
    },
    /// The app's master failed to start or to reload.
    #[error("{0}")]
    Cluster(String),
    /// A watch could not start.
    #[error(transparent)]
    Watch(#[from] yolk_watcher::WatchError),
}

/// The state of the last build, written to `run/dev_build.json` for the running workers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStatus {
    /// Counts successful reloads: a page reloads itself when it changes.
    pub generation: u64,
    /// The errors of the last build; empty when it succeeded.
    pub errors: Vec<CompileError>,
}

/// The file the dev loop writes its [`BuildStatus`] to, under the app's base directory.
pub const STATUS_FILE: &str = "run/dev_build.json";

const IGNORED: [&str; 5] = ["target", ".git", "run", "logs", "node_modules"];

fn say(line: &str) {
    eprintln!("\u{1b}[1;32m[yolk dev]\u{1b}[0m {line}");
}

/// Runs the dev loop until SIGINT or SIGTERM.
///
/// # Errors
///
/// A [`DevError`] when the app cannot be found, built the first time, or started.
pub async fn run(args: DevArgs) -> Result<(), DevError> {
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let cwd = std::env::current_dir().map_err(|source| DevError::Spawn {
        what: "the current directory".into(),
        source,
    })?;
    let project = project::locate(&cargo, &cwd, args.package.as_deref(), args.bin.as_deref())?;
    let port = args.port.unwrap_or_else(|| free_port(7001));
    let mut ignored: Vec<String> = IGNORED.iter().map(|s| (*s).to_owned()).collect();
    ignored.extend(args.ignore.iter().cloned());

    let (tx, mut changes) = mpsc::unbounded_channel::<Vec<Event>>();
    let source = DevelopmentSource::new(Duration::from_millis(args.debounce_ms));
    let watcher = Watcher::local(Arc::new(source));
    let mut handles = Vec::new();
    for dir in project.watch_dirs.iter().chain(&args.watch) {
        let tx = tx.clone();
        let handle = watcher
            .watch_with(
                dir,
                WatchOptions::default().allow_missing(true),
                move |events: &[Event]| {
                    let _ = tx.send(events.to_vec());
                },
            )
            .await?;
        handles.push(handle);
    }
    say(&format!(
        "app `{}` (binary `{}`); watching {} directories",
        project.package,
        project.bin,
        handles.len()
    ));

    let mut status = BuildStatus {
        generation: 0,
        errors: Vec::new(),
    };
    let mut cluster: Option<Cluster> = None;
    let outcome = build_now(&cargo, &project).await?;
    report_build(&project, &outcome, &mut status);
    if outcome.exe.is_some() {
        let started = Instant::now();
        let running = Cluster::start(
            outcome.exe.as_deref().unwrap_or(Path::new("")),
            &project.dir,
            port,
            args.workers,
        )
        .await?;
        say(&format!(
            "serving on {} · built in {} · started in {}",
            running.url,
            secs(outcome.elapsed),
            secs(started.elapsed())
        ));
        cluster = Some(running);
    }

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| DevError::Spawn {
        what: "a signal handler".into(),
        source,
    })?;
    loop {
        let batch = tokio::select! {
            batch = changes.recv() => batch,
            _ = tokio::signal::ctrl_c() => None,
            _ = terminate.recv() => None,
        };
        let Some(mut events) = batch else {
            break;
        };
        while let Ok(more) = changes.try_recv() {
            events.extend(more);
        }
        let changed: Vec<PathBuf> = events
            .into_iter()
            .map(|event| event.path)
            .filter(|path| !is_ignored(path, &ignored))
            .collect();
        if changed.is_empty() {
            continue;
        }
        let saved = Instant::now();
        let what = describe(&changed, &project.dir);
        let config_only = changed
            .iter()
            .all(|path| path.starts_with(project.config_dir()));
        let mut built = None;
        if !config_only || cluster.is_none() {
            let outcome = build_now(&cargo, &project).await?;
            report_build(&project, &outcome, &mut status);
            if outcome.exe.is_none() {
                let first = outcome.errors.first().map(|e| match (&e.file, e.line) {
                    (Some(file), Some(line)) => format!(" ({file}:{line})"),
                    _ => String::new(),
                });
                say(&format!(
                    "{what} · build failed in {} with {} error(s){} · the last good build keeps serving",
                    secs(outcome.elapsed),
                    outcome.errors.len(),
                    first.unwrap_or_default()
                ));
                continue;
            }
            built = Some(outcome);
        }
        let build_part = built.as_ref().map_or_else(
            || "config only, no build".to_owned(),
            |b| format!("built in {}", secs(b.elapsed)),
        );
        let reloaded = match &mut cluster {
            Some(running) => running.reload().await,
            None => {
                let started = Instant::now();
                let exe = built
                    .as_ref()
                    .and_then(|b| b.exe.clone())
                    .unwrap_or_default();
                Cluster::start(&exe, &project.dir, port, args.workers)
                    .await
                    .map(|running| {
                        cluster = Some(running);
                        started.elapsed()
                    })
            }
        };
        match reloaded {
            Ok(reload) => {
                status.generation += 1;
                write_status(&project, &status);
                say(&format!(
                    "{what} · {build_part} · reloaded in {} · {} from save to serving",
                    secs(reload),
                    secs(saved.elapsed())
                ));
            }
            Err(error) => say(&format!("{what} · {build_part} · reload failed: {error}")),
        }
    }
    drop(handles);
    if let Some(running) = cluster {
        say("stopping");
        running.stop().await;
    }
    Ok(())
}

async fn build_now(cargo: &Path, project: &Project) -> Result<BuildOutcome, DevError> {
    let cargo = cargo.to_owned();
    let project = project.clone();
    tokio::task::spawn_blocking(move || {
        build::build(
            &cargo,
            &project.dir,
            &project.package,
            &project.bin,
            |rendered| {
                eprint!("{rendered}");
            },
        )
    })
    .await
    .unwrap_or_else(|error| Err(DevError::Cluster(format!("the build task failed: {error}"))))
}

fn report_build(project: &Project, outcome: &BuildOutcome, status: &mut BuildStatus) {
    if outcome.exe.is_none() && outcome.errors.is_empty() && !outcome.cargo_output.is_empty() {
        eprint!("{}", outcome.cargo_output);
    }
    status.errors = if outcome.exe.is_some() {
        Vec::new()
    } else if outcome.errors.is_empty() {
        vec![CompileError {
            message: "cargo build failed".into(),
            file: None,
            line: None,
            column: None,
            rendered: outcome.cargo_output.clone(),
        }]
    } else {
        outcome.errors.clone()
    };
    write_status(project, status);
}

fn write_status(project: &Project, status: &BuildStatus) {
    let path = project.dir.join(STATUS_FILE);
    let json = serde_json::to_vec(status).unwrap_or_default();
    let temp = path.with_extension("json.tmp");
    let written = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
        .and_then(|()| std::fs::write(&temp, json))
        .and_then(|()| std::fs::rename(&temp, &path));
    if let Err(error) = written {
        say(&format!("cannot write `{}`: {error}", path.display()));
    }
}

fn is_ignored(path: &Path, ignored: &[String]) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.ends_with('~')
        || name.starts_with(".#")
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
        || path
            .components()
            .any(|c| ignored.iter().any(|i| c.as_os_str() == i.as_str()))
}

fn describe(changed: &[PathBuf], base: &Path) -> String {
    let first = changed[0]
        .strip_prefix(base)
        .unwrap_or(&changed[0])
        .display()
        .to_string();
    match changed.len() {
        1 => format!("{first} changed"),
        n => format!("{first} and {} more changed", n - 1),
    }
}

fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

fn free_port(from: u16) -> u16 {
    (from..from.saturating_add(100))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_editor_files_are_ignored() {
        let ignored: Vec<String> = IGNORED.iter().map(|s| (*s).to_owned()).collect();
        assert!(is_ignored(Path::new("/app/target/debug/app"), &ignored));
        assert!(is_ignored(
            Path::new("/app/run/application_timing_1.json"),
            &ignored
        ));
        assert!(is_ignored(Path::new("/app/src/.main.rs.swp"), &ignored));
        assert!(is_ignored(Path::new("/app/src/4913"), &ignored));
        assert!(!is_ignored(Path::new("/app/src/main.rs"), &ignored));
        assert!(!is_ignored(
            Path::new("/app/config/config.local.toml"),
            &ignored
        ));
    }

    #[test]
    fn a_cycle_names_what_changed() {
        let base = Path::new("/app");
        assert_eq!(
            describe(&[PathBuf::from("/app/src/lib.rs")], base),
            "src/lib.rs changed"
        );
        assert_eq!(
            describe(
                &[
                    PathBuf::from("/app/src/lib.rs"),
                    PathBuf::from("/app/src/a.rs")
                ],
                base
            ),
            "src/lib.rs and 1 more changed"
        );
    }
}
