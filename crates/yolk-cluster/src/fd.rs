//! Passing file descriptors to child processes: the only module allowed `unsafe`.
//!
//! A parent clears `FD_CLOEXEC` on a descriptor just around the spawn of the child that needs
//! it, and names its number in an environment variable; the child takes ownership of that
//! number once. Systemd's socket activation (`LISTEN_FDS` / `LISTEN_PID`, first fd 3) is read
//! the same way.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};

use crate::error::ClusterError;

/// The fds this process has taken ownership of, so none is owned twice.
static TAKEN: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// Sets or clears `FD_CLOEXEC` on `fd`.
///
/// # Errors
///
/// The OS error of `fcntl`.
pub(crate) fn set_inheritable(fd: impl AsFd, inheritable: bool) -> std::io::Result<()> {
    let mut flags = fcntl_getfd(&fd)?;
    flags.set(FdFlags::CLOEXEC, !inheritable);
    fcntl_setfd(&fd, flags)?;
    Ok(())
}

/// Takes ownership of the inherited descriptor whose number is in the variable `var`.
///
/// # Errors
///
/// [`ClusterError::InheritedFd`] when the variable is missing, not a number, names a standard
/// stream, an fd already taken, or one that is not open.
pub(crate) fn take_from_env(var: &str) -> Result<OwnedFd, ClusterError> {
    let invalid = |reason: String| ClusterError::InheritedFd {
        var: var.to_owned(),
        reason,
    };
    let value = std::env::var(var).map_err(|_| invalid("the variable is not set".to_owned()))?;
    let fd: RawFd = value
        .trim()
        .parse()
        .map_err(|_| invalid(format!("`{value}` is not a file descriptor number")))?;
    take(fd).map_err(invalid)
}

/// Takes ownership of the first socket systemd passed (`LISTEN_FDS` ≥ 1 and `LISTEN_PID` is
/// this process), if any.
pub(crate) fn take_systemd_listener() -> Option<OwnedFd> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.trim().parse().ok()?;
    let count: u32 = std::env::var("LISTEN_FDS").ok()?.trim().parse().ok()?;
    if pid != std::process::id() || count == 0 {
        return None;
    }
    take(3).ok()
}

fn take(fd: RawFd) -> Result<OwnedFd, String> {
    if fd <= 2 {
        return Err(format!("fd {fd} is a standard stream"));
    }
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    if taken.contains(&fd) {
        return Err(format!("fd {fd} was already taken"));
    }
    // SAFETY: `fd` is only borrowed for this `fcntl` call, which fails with EBADF rather than
    // touching anything when the number is not open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    fcntl_getfd(borrowed).map_err(|error| format!("fd {fd} is not open: {error}"))?;
    taken.insert(fd);
    // SAFETY: `fd` is open (checked above), was handed to this process by its parent for this
    // purpose, and is owned exactly once: `TAKEN` refuses a second claim, and nothing else in
    // the crate builds an owner from a raw number.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_inheritable(&owned, false).map_err(|error| format!("fd {fd}: {error}"))?;
    Ok(owned)
}
