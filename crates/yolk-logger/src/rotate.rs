//! [`Rotator`]: renames the app's log files — once for the whole cluster, under a lock in the
//! log directory — and deletes old ones.
//!
//! - `day`: `file.log` → `file.log.YYYY-MM-DD`; `hour`: `file.log.YYYY-MM-DD-HH`; the date of
//!   the period that ended (for an on-demand rotation: of the current one). A name already
//!   taken is never overwritten: the file becomes `file.log.YYYY-MM-DD.1`, `.2`, ….
//! - `size`: `file.log` → `file.log.1`, the older ones shifted to `.2` … `.{max_files}`; the
//!   one beyond `max_files` is deleted.
//! - A scheduled rotation of a period runs once, whoever asks: the last period rotated is kept
//!   in the lock file, so a second instance on the same directory does not rotate twice.
//! - Dated files whose date is more than `max_days` days before today are deleted.
//!
//! Renaming is all a rotation does to the files: each process then reopens its own
//! ([`Loggers::reopen`](crate::Loggers::reopen)); lines written in between land in the renamed
//! file, so none is lost and none is written twice.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FlockOperation, RenameFlags};

use crate::clock::{self, Civil};
use crate::config::{LoggerConfig, Rotate};
use crate::error::LoggerError;
use crate::loggers::LogFile;

/// The lock file in the log directory; it also holds the last scheduled periods rotated.
pub const LOCK_FILE: &str = ".rotate.lock";

/// Why a rotation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// The day (or hour) that ends at `boundary` (Unix seconds) is over: rotates the files of
    /// that kind, once per period for the whole directory.
    Scheduled {
        /// Unix seconds of the local midnight (or full hour) that ended the period.
        boundary: i64,
        /// Hourly files (`true`) or daily ones.
        hourly: bool,
    },
    /// Size check: rotates the `size` files that reached `max_size`.
    Size,
    /// On demand (`SIGUSR1`, `rotate-logs`): rotates every non-empty file now.
    Now,
}

/// What a rotation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotated {
    /// `(from, to)` for each file renamed.
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Old files deleted.
    pub deleted: Vec<PathBuf>,
    /// The scheduled period had already been rotated: nothing was done.
    pub already_done: bool,
}

/// Rotates a set of files in one directory.
///
/// ```
/// use yolk_logger::{LogFile, Rotate, Rotator, Trigger};
///
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("app.log");
/// std::fs::write(&log, "a line\n")?;
/// let rotator = Rotator::new(dir.path(), vec![LogFile { path: log.clone(), rotate: Rotate::Size }]);
/// let rotated = rotator.rotate(Trigger::Now)?;
/// assert_eq!(rotated.renamed[0].1, dir.path().join("app.log.1"));
/// assert!(!log.exists());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rotator {
    dir: PathBuf,
    files: Vec<LogFile>,
    max_size: u64,
    max_files: u32,
    max_days: u32,
}

impl Rotator {
    /// Rotates `files`, locking in `dir`; `max_size` 50 MiB, `max_files` 10, `max_days` 31.
    pub fn new(dir: impl Into<PathBuf>, files: Vec<LogFile>) -> Self {
        let defaults = LoggerConfig::default();
        Self {
            dir: dir.into(),
            files,
            max_size: defaults.max_size,
            max_files: defaults.max_files,
            max_days: defaults.max_days,
        }
    }

    /// Takes `max_size`, `max_files` and `max_days` from `config`.
    ///
    /// ```
    /// use yolk_logger::{LoggerConfig, Rotator};
    ///
    /// let config = LoggerConfig { max_days: 7, ..LoggerConfig::default() };
    /// let rotator = Rotator::new("logs", Vec::new()).with_limits(&config);
    /// # let _ = rotator;
    /// ```
    #[must_use]
    pub fn with_limits(mut self, config: &LoggerConfig) -> Self {
        self.max_size = config.max_size;
        self.max_files = config.max_files.max(1);
        self.max_days = config.max_days;
        self
    }

    /// The files rotated.
    pub fn files(&self) -> &[LogFile] {
        &self.files
    }

    /// Whether any file rotates by `kind`.
    pub fn has(&self, kind: Rotate) -> bool {
        self.files.iter().any(|file| file.rotate == kind)
    }

    /// Rotates as `trigger` says, holding the directory's lock (waiting for it).
    ///
    /// # Errors
    ///
    /// [`LoggerError::Io`] when the lock cannot be taken or a file cannot be renamed; files
    /// renamed before the failure stay renamed.
    pub fn rotate(&self, trigger: Trigger) -> Result<Rotated, LoggerError> {
        self.rotate_at(trigger, clock::now_ms().div_euclid(1000))
    }

    /// [`rotate`](Self::rotate) as if the time were `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// As [`rotate`](Self::rotate).
    pub fn rotate_at(&self, trigger: Trigger, now: i64) -> Result<Rotated, LoggerError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|source| LoggerError::io("create the log directory", &self.dir, source))?;
        let lock_path = self.dir.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|source| LoggerError::io("open", &lock_path, source))?;
        rustix::fs::flock(&lock, FlockOperation::LockExclusive)
            .map_err(|e| LoggerError::io("lock", &lock_path, e.into()))?;
        // The lock is released when `lock` is closed, at the end of this function.
        let mut rotated = Rotated::default();
        match trigger {
            Trigger::Scheduled { boundary, hourly } => {
                let ended = clock::civil(boundary - 1);
                let period = period_key(&ended, hourly);
                let kind = if hourly { "hour" } else { "day" };
                let mut state = read_state(&mut lock);
                if state
                    .get(kind)
                    .is_some_and(|done| done.as_str() >= period.as_str())
                {
                    rotated.already_done = true;
                    return Ok(rotated);
                }
                let wanted = if hourly { Rotate::Hour } else { Rotate::Day };
                for file in self.files.iter().filter(|f| f.rotate == wanted) {
                    Self::rotate_dated(&file.path, &period, &mut rotated)?;
                }
                state.set(kind, &period);
                write_state(&mut lock, &state, &lock_path)?;
            }
            Trigger::Size => {
                for file in self.files.iter().filter(|f| f.rotate == Rotate::Size) {
                    let size = std::fs::metadata(&file.path).map_or(0, |m| m.len());
                    if size >= self.max_size.max(1) {
                        self.rotate_numbered(&file.path, &mut rotated)?;
                    }
                }
            }
            Trigger::Now => {
                let current = clock::civil(now);
                for file in &self.files {
                    match file.rotate {
                        Rotate::Size => self.rotate_numbered(&file.path, &mut rotated)?,
                        Rotate::Hour => {
                            Self::rotate_dated(
                                &file.path,
                                &period_key(&current, true),
                                &mut rotated,
                            )?;
                        }
                        Rotate::Day | Rotate::None => {
                            Self::rotate_dated(
                                &file.path,
                                &period_key(&current, false),
                                &mut rotated,
                            )?;
                        }
                    }
                }
            }
        }
        if self.max_days > 0 {
            self.delete_old(now, &mut rotated);
        }
        Ok(rotated)
    }

    /// `file` → `file.PERIOD`, or `file.PERIOD.N` with the first free `N`.
    fn rotate_dated(file: &Path, period: &str, rotated: &mut Rotated) -> Result<(), LoggerError> {
        if !non_empty(file) {
            return Ok(());
        }
        let base = file.as_os_str().to_string_lossy().into_owned();
        for n in 0u32.. {
            let target = if n == 0 {
                PathBuf::from(format!("{base}.{period}"))
            } else {
                PathBuf::from(format!("{base}.{period}.{n}"))
            };
            match rename_no_replace(file, &target) {
                Ok(()) => {
                    rotated.renamed.push((file.to_owned(), target));
                    return Ok(());
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(source) => return Err(LoggerError::io("rename", file, source)),
            }
        }
        Ok(())
    }

    /// `file.{max-1}` → `file.{max}` … `file` → `file.1`, dropping `file.{max}` first.
    fn rotate_numbered(&self, file: &Path, rotated: &mut Rotated) -> Result<(), LoggerError> {
        if !non_empty(file) {
            return Ok(());
        }
        let base = file.as_os_str().to_string_lossy().into_owned();
        let numbered = |n: u32| PathBuf::from(format!("{base}.{n}"));
        let max = self.max_files.max(1);
        let oldest = numbered(max);
        match std::fs::remove_file(&oldest) {
            Ok(()) => rotated.deleted.push(oldest),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LoggerError::io("delete", oldest, source)),
        }
        for n in (1..max).rev() {
            let from = numbered(n);
            match rename_no_replace(&from, &numbered(n + 1)) {
                Ok(()) => rotated.renamed.push((from, numbered(n + 1))),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(LoggerError::io("rename", from, source)),
            }
        }
        match rename_no_replace(file, &numbered(1)) {
            Ok(()) => rotated.renamed.push((file.to_owned(), numbered(1))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LoggerError::io("rename", file, source)),
        }
        Ok(())
    }

    /// Deletes `file.YYYY-MM-DD…` dated more than `max_days` days before `now`'s date.
    fn delete_old(&self, now: i64, rotated: &mut Rotated) {
        let today = clock::civil(now);
        let today = clock::days_from_civil(today.year, today.month, today.day);
        let oldest_kept = today - i64::from(self.max_days);
        let mut dirs: Vec<&Path> = self.files.iter().filter_map(|f| f.path.parent()).collect();
        dirs.dedup();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let dated = self.files.iter().find_map(|file| {
                    let base = file.path.file_name()?.to_string_lossy().into_owned();
                    let rest = name.strip_prefix(&base)?.strip_prefix('.')?;
                    parse_date(rest)
                });
                if let Some(day) = dated
                    && day < oldest_kept
                {
                    let path = entry.path();
                    if std::fs::remove_file(&path).is_ok() {
                        rotated.deleted.push(path);
                    }
                }
            }
        }
    }
}

/// `YYYY-MM-DD` (or `YYYY-MM-DD-HH`) of a period.
fn period_key(civil: &Civil, hourly: bool) -> String {
    if hourly {
        format!("{}-{:02}", clock::date_string(civil), civil.hour)
    } else {
        clock::date_string(civil)
    }
}

/// Days since the epoch of a leading `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('.')) {
        return None;
    }
    let bytes = date.as_bytes();
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = date[..4].parse().ok()?;
    let month: u32 = date[5..7].parse().ok()?;
    let day: u32 = date[8..10].parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(clock::days_from_civil(year, month, day))
}

fn non_empty(file: &Path) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.len() > 0)
}

/// Renames `from` to `to` unless `to` exists, atomically.
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(Into::into)
}

/// `day=2026-11-23` / `hour=2026-11-24-09` lines.
#[derive(Debug, Default)]
struct State {
    entries: Vec<(String, String)>,
}

impl State {
    fn get(&self, kind: &str) -> Option<&String> {
        self.entries.iter().find(|(k, _)| k == kind).map(|(_, v)| v)
    }

    fn set(&mut self, kind: &str, period: &str) {
        self.entries.retain(|(k, _)| k != kind);
        self.entries.push((kind.to_owned(), period.to_owned()));
    }
}

fn read_state(lock: &mut File) -> State {
    let mut text = String::new();
    let _ = lock.rewind();
    let _ = lock.read_to_string(&mut text);
    State {
        entries: text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    }
}

fn write_state(lock: &mut File, state: &State, path: &Path) -> Result<(), LoggerError> {
    let mut text = String::new();
    for (kind, period) in &state.entries {
        text.push_str(kind);
        text.push('=');
        text.push_str(period);
        text.push('\n');
    }
    lock.set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| lock.write_all(text.as_bytes()))
        .map_err(|source| LoggerError::io("write", path, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::midnight;

    fn files(dir: &Path, rotate: Rotate) -> Vec<LogFile> {
        vec![LogFile {
            path: dir.join("app.log"),
            rotate,
        }]
    }

    #[test]
    fn scheduled_day_rotation_runs_once_per_period() {
        let dir = tempfile::tempdir().unwrap();
        let rotator = Rotator::new(dir.path(), files(dir.path(), Rotate::Day));
        std::fs::write(dir.path().join("app.log"), "monday\n").unwrap();
        let boundary = midnight(2026, 11, 24);
        let trigger = Trigger::Scheduled {
            boundary,
            hourly: false,
        };
        let first = rotator.rotate_at(trigger, boundary).unwrap();
        assert_eq!(first.renamed.len(), 1);
        let rotated = dir.path().join("app.log.2026-11-23");
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "monday\n");
        // A second instance asking for the same period does nothing.
        std::fs::write(dir.path().join("app.log"), "tuesday\n").unwrap();
        let second = rotator.rotate_at(trigger, boundary + 5).unwrap();
        assert!(second.already_done && second.renamed.is_empty());
        assert!(dir.path().join("app.log").exists());
    }

    #[test]
    fn an_existing_target_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let rotator = Rotator::new(dir.path(), files(dir.path(), Rotate::Day));
        let now = midnight(2026, 11, 24) + 3600;
        for text in ["one\n", "two\n", "three\n"] {
            std::fs::write(dir.path().join("app.log"), text).unwrap();
            rotator.rotate_at(Trigger::Now, now).unwrap();
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("app.log.2026-11-24"), "one\n");
        assert_eq!(read("app.log.2026-11-24.1"), "two\n");
        assert_eq!(read("app.log.2026-11-24.2"), "three\n");
        // An empty or missing file is not rotated.
        let nothing = rotator.rotate_at(Trigger::Now, now).unwrap();
        assert!(nothing.renamed.is_empty());
    }

    #[test]
    fn size_rotation_shifts_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = LoggerConfig {
            max_size: 4,
            max_files: 2,
            ..LoggerConfig::default()
        };
        let rotator =
            Rotator::new(dir.path(), files(dir.path(), Rotate::Size)).with_limits(&config);
        std::fs::write(dir.path().join("app.log"), "abc").unwrap();
        assert!(rotator.rotate(Trigger::Size).unwrap().renamed.is_empty());
        for text in ["first", "second", "third"] {
            std::fs::write(dir.path().join("app.log"), text).unwrap();
            rotator.rotate(Trigger::Size).unwrap();
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("app.log.1"), "third");
        assert_eq!(read("app.log.2"), "second");
        assert!(!dir.path().join("app.log.3").exists());
    }

    #[test]
    fn retention_deletes_exactly_past_max_days() {
        let dir = tempfile::tempdir().unwrap();
        let config = LoggerConfig {
            max_days: 2,
            ..LoggerConfig::default()
        };
        let rotator = Rotator::new(dir.path(), files(dir.path(), Rotate::Day)).with_limits(&config);
        for name in [
            "app.log.2026-11-21",
            "app.log.2026-11-22",
            "app.log.2026-11-22.1",
            "app.log.2026-11-23",
            "app.log.2026-11-21-23",
            "other.log.2026-01-01",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let now = midnight(2026, 11, 24) + 60;
        let rotated = rotator.rotate_at(Trigger::Now, now).unwrap();
        let mut deleted: Vec<String> = rotated
            .deleted
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        deleted.sort();
        assert_eq!(deleted, ["app.log.2026-11-21", "app.log.2026-11-21-23"]);
        assert!(dir.path().join("app.log.2026-11-22").exists());
        assert!(dir.path().join("other.log.2026-01-01").exists());
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2026-11-24").is_some());
        assert!(parse_date("2026-11-24-10").is_some());
        assert!(parse_date("2026-11-24.3").is_some());
        assert!(parse_date("1").is_none());
        assert!(parse_date("2026-13-01").is_none());
        assert!(parse_date("2026-11-24x").is_none());
    }
}
