//! The master's pid file, `run/<title>.pid`: how `stop`, `status` and `reload` find it.

use std::io;
use std::path::{Path, PathBuf};

use rustix::process::{Pid, Signal};

use crate::error::ClusterError;

/// The pid file of the running master; removed when dropped.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`.
    ///
    /// # Errors
    ///
    /// [`ClusterError::AlreadyRunning`] when the file names a live process;
    /// [`ClusterError::Io`] when it cannot be written.
    pub(crate) fn create(path: &Path) -> Result<Self, ClusterError> {
        if let Some(pid) = read_live(path)? {
            return Err(ClusterError::AlreadyRunning {
                title: title_of(path),
                pid,
                pid_file: path.to_owned(),
            });
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| {
                ClusterError::io(format!("cannot create {}", parent.display()), source)
            })?;
        }
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            ClusterError::io(format!("cannot write {}", path.display()), source)
        })?;
        Ok(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read(&self.path).ok().flatten() == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The pid in `path`, if the file exists and holds one.
///
/// # Errors
///
/// [`ClusterError::Io`] when the file exists but cannot be read.
pub(crate) fn read(path: &Path) -> Result<Option<u32>, ClusterError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().parse().ok()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClusterError::io(
            format!("cannot read {}", path.display()),
            source,
        )),
    }
}

/// The pid in `path` when that process is alive.
///
/// # Errors
///
/// As [`read`].
pub(crate) fn read_live(path: &Path) -> Result<Option<u32>, ClusterError> {
    Ok(read(path)?.filter(|&pid| is_alive(pid)))
}

/// True when a process `pid` exists.
pub(crate) fn is_alive(pid: u32) -> bool {
    to_pid(pid).is_some_and(|pid| match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(error) => error == rustix::io::Errno::PERM,
    })
}

/// Sends `signal` to `pid`.
///
/// # Errors
///
/// [`ClusterError::Io`] when the signal cannot be sent.
pub(crate) fn signal(pid: u32, signal: Signal) -> Result<(), ClusterError> {
    let target = to_pid(pid).ok_or_else(|| {
        ClusterError::io(
            format!("invalid pid {pid}"),
            io::Error::from(io::ErrorKind::InvalidInput),
        )
    })?;
    rustix::process::kill_process(target, signal)
        .map_err(|source| ClusterError::io(format!("cannot signal process {pid}"), source))
}

fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

fn title_of(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_names_this_process_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("demo.pid");
        let file = PidFile::create(&path).unwrap();
        assert_eq!(read_live(&path).unwrap(), Some(std::process::id()));
        let error = PidFile::create(&path).unwrap_err();
        assert!(error.to_string().contains("already running"), "{error}");
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_pid_file_is_not_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.pid");
        // Pid numbers never reach this value on Linux (the maximum is 2^22).
        std::fs::write(&path, "2147483000\n").unwrap();
        assert_eq!(read(&path).unwrap(), Some(2_147_483_000));
        assert_eq!(read_live(&path).unwrap(), None);
        let _file = PidFile::create(&path).unwrap();
        assert_eq!(read(&path).unwrap(), Some(std::process::id()));
    }
}
