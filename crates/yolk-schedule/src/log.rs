//! The schedule log (`logs/yolk-schedule.log`): one line per event, appended with `O_APPEND`
//! so that every process of a cluster can write to it; the file is opened per line, so a
//! rotation that renames it is followed at once.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Writes lines for one job to the schedule log, and the same events to `tracing`
/// (target `yolk_schedule`).
#[derive(Clone, Debug)]
pub struct JobLogger {
    job: Arc<str>,
    file: Option<Arc<Path>>,
}

/// A line's level.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

impl JobLogger {
    pub(crate) fn new(job: Arc<str>, file: Option<Arc<Path>>) -> Self {
        Self { job, file }
    }

    /// Logs at INFO.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let log = dir.path().join("s.log");
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().with_log_file(&log).job(Job::interval("j", "1h", |ctx| async move {
    ///     ctx.logger().info("hello");
    ///     Ok(())
    /// }))?;
    /// scheduler.run("j").await?;
    /// assert!(std::fs::read_to_string(&log)?.contains(" INFO "));
    /// # Ok(())
    /// # }
    /// ```
    pub fn info(&self, message: &str) {
        self.write(Level::Info, message);
    }

    /// Logs at WARN.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let log = dir.path().join("s.log");
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().with_log_file(&log).job(Job::interval("j", "1h", |ctx| async move {
    ///     ctx.logger().warn("disk almost full");
    ///     Ok(())
    /// }))?;
    /// scheduler.run("j").await?;
    /// assert!(std::fs::read_to_string(&log)?.contains(" WARN "));
    /// # Ok(())
    /// # }
    /// ```
    pub fn warn(&self, message: &str) {
        self.write(Level::Warn, message);
    }

    /// Logs at ERROR.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let log = dir.path().join("s.log");
    /// use yolk_schedule::{Job, Scheduler};
    /// let scheduler = Scheduler::local().with_log_file(&log).job(Job::interval("j", "1h", |ctx| async move {
    ///     ctx.logger().error("upstream refused");
    ///     Ok(())
    /// }))?;
    /// scheduler.run("j").await?;
    /// assert!(std::fs::read_to_string(&log)?.contains(" ERROR "));
    /// # Ok(())
    /// # }
    /// ```
    pub fn error(&self, message: &str) {
        self.write(Level::Error, message);
    }

    pub(crate) fn write(&self, level: Level, message: &str) {
        match level {
            Level::Info => tracing::info!(target: "yolk_schedule", job = &*self.job, "{message}"),
            Level::Warn => tracing::warn!(target: "yolk_schedule", job = &*self.job, "{message}"),
            Level::Error => {
                tracing::error!(target: "yolk_schedule", job = &*self.job, "{message}");
            }
        }
        if let Some(file) = &self.file {
            let line = format_line(level, &self.job, message);
            if let Err(error) = append(file, line.as_bytes()) {
                tracing::warn!(
                    target: "yolk_schedule",
                    "cannot write the schedule log `{}`: {error}",
                    file.display()
                );
            }
        }
    }
}

/// `2026-11-24 10:00:00,123 INFO 4242 [job] message\n`
fn format_line(level: Level, job: &str, message: &str) -> String {
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
    let level = match level {
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    // One line per event, whatever the message holds.
    let message = message.replace('\n', "\\n");
    format!("{now} {level} {} [{job}] {message}\n", std::process::id())
}

/// Appends `bytes` in one `write` on an `O_APPEND` descriptor, creating the file and its
/// directory when needed.
pub(crate) fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let open = || OpenOptions::new().create(true).append(true).open(path);
    let mut file = match open() {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            open()?
        }
        Err(error) => return Err(error),
    };
    file.write_all(bytes)
}

/// The log file for `config_path` under `base_dir` (absolute paths stay as they are).
pub(crate) fn resolve(base_dir: &Path, config_path: &str) -> PathBuf {
    base_dir.join(config_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_level_pid_job_and_stay_one_line() {
        let line = format_line(Level::Warn, "sweep", "a\nb");
        assert!(line.ends_with(&format!(" WARN {} [sweep] a\\nb\n", std::process::id())));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn append_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/deep/s.log");
        append(&path, b"one\n").unwrap();
        append(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
