//! A real `redis-server` for a test: on a free port of 127.0.0.1, without persistence, run
//! from a temporary directory, ready once it answers `PING`, killed when dropped.
//!
//! Redis is a system program, not a crate: [`RedisServer::start_or_skip`] skips a test on a
//! machine without it, and fails it where the variable `CI` is set, so that a CI machine
//! missing Redis fails loudly instead of passing with the Redis tests unrun.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::net;
use crate::process::{ProcessGroup, SpawnError, poll_until};

const PROGRAM: &str = "redis-server";
/// How long a new server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `PING` may take.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// A `redis-server` could not be started.
///
/// ```
/// use yolk_test::redis::{RedisError, RedisServer};
///
/// match RedisServer::start() {
///     Ok(redis) => assert_ne!(redis.port(), 0),
///     Err(RedisError::NotInstalled(error)) => eprintln!("no Redis here: {error}"),
///     Err(error) => panic!("{error}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// `redis-server --version` could not be run.
    #[error(
        "`redis-server` cannot be run ({0}): install Redis (the Debian package `redis-server`)"
    )]
    NotInstalled(#[source] std::io::Error),
    /// No free port or temporary directory could be had.
    #[error("cannot prepare a port and a directory for redis-server: {0}")]
    Setup(#[source] std::io::Error),
    /// The server could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The server exited before it answered `PING`, e.g. because another took its port.
    #[error(
        "redis-server on port {port} exited ({status}) before answering PING; its output:\n{output}"
    )]
    Exited {
        /// Its port.
        port: u16,
        /// How it exited.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The server did not answer `PING` in time.
    #[error(
        "redis-server on port {port} did not answer PING within {timeout:?}; its output:\n{output}"
    )]
    NotReady {
        /// Its port.
        port: u16,
        /// How long it had.
        timeout: Duration,
        /// What it printed.
        output: String,
    },
}

/// A `redis-server` on 127.0.0.1, with nothing saved to disk (`--save "" --appendonly no`).
///
/// ```
/// use yolk_test::redis::RedisServer;
///
/// let Some(redis) = RedisServer::start_or_skip() else {
///     return; // no Redis on this machine
/// };
/// assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    // Before `dir`: the server goes before its working directory.
    process: Option<ProcessGroup>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING` (up to 10 s).
    ///
    /// ```
    /// # use yolk_test::redis::{RedisError, RedisServer};
    /// match RedisServer::start() {
    ///     Ok(redis) => assert!(redis.url().starts_with("redis://127.0.0.1:")),
    ///     Err(RedisError::NotInstalled(_)) => {} // no Redis on this machine
    ///     Err(error) => panic!("{error}"),
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisError::NotInstalled`] when `redis-server` cannot be run; the other
    /// [`RedisError`]s when it cannot be started, exits, or does not answer.
    pub fn start() -> Result<Self, RedisError> {
        // Asked apart from the start, so that a missing program is told from a failed start.
        Command::new(PROGRAM)
            .arg("--version")
            .output()
            .map_err(RedisError::NotInstalled)?;
        let mut server = Self {
            port: net::free_port().map_err(RedisError::Setup)?,
            process: None,
            dir: tempfile::tempdir().map_err(RedisError::Setup)?,
        };
        server.restart()?;
        Ok(server)
    }

    /// As [`start`](Self::start), for a test to skip where Redis is not installed: `None`
    /// there (saying so on stderr), unless the variable `CI` is set.
    ///
    /// ```
    /// let Some(redis) = yolk_test::redis::RedisServer::start_or_skip() else {
    ///     return;
    /// };
    /// assert_ne!(redis.port(), 0);
    /// ```
    ///
    /// # Panics
    ///
    /// On any other [`RedisError`], and on [`RedisError::NotInstalled`] when `CI` is set.
    pub fn start_or_skip() -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(RedisError::NotInstalled(error)) if std::env::var_os("CI").is_none() => {
                eprintln!("redis-server cannot be run ({error}): skipping this Redis test");
                None
            }
            Err(error) => panic!("{error}"),
        }
    }

    /// Its port on 127.0.0.1.
    ///
    /// ```
    /// # let Some(redis) = yolk_test::redis::RedisServer::start_or_skip() else { return };
    /// std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, `redis://127.0.0.1:PORT/`, as Redis clients take it.
    ///
    /// ```
    /// # let Some(redis) = yolk_test::redis::RedisServer::start_or_skip() else { return };
    /// assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
    /// ```
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (`SIGKILL`), as a crash would; its data is gone.
    /// [`restart`](Self::restart) starts it again on the same port.
    ///
    /// ```
    /// # let Some(mut redis) = yolk_test::redis::RedisServer::start_or_skip() else { return };
    /// redis.stop();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_err());
    /// ```
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts the server again on the same port, empty (killing it first if it runs), and
    /// waits until it answers `PING`.
    ///
    /// ```
    /// # let Some(mut redis) = yolk_test::redis::RedisServer::start_or_skip() else { return };
    /// redis.stop();
    /// redis.restart().unwrap();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// A [`RedisError`] when it cannot be started, exits, or does not answer.
    pub fn restart(&mut self) -> Result<(), RedisError> {
        self.stop();
        let port = self.port.to_string();
        let process = ProcessGroup::spawn(
            Command::new(PROGRAM)
                .args(["--port", &port, "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .current_dir(self.dir.path()),
        )?;
        let port = self.port;
        let ready = poll_until(READY_TIMEOUT, || {
            if ping(port) {
                return Some(Ok(()));
            }
            let status = process.wait_exit(Duration::ZERO)?;
            Some(Err(RedisError::Exited {
                port,
                status,
                output: process.stdout(),
            }))
        });
        match ready {
            Some(Ok(())) => {}
            Some(Err(error)) => return Err(error),
            None => {
                return Err(RedisError::NotReady {
                    port,
                    timeout: READY_TIMEOUT,
                    output: process.stdout(),
                });
            }
        }
        self.process = Some(process);
        Ok(())
    }
}

/// Whether a server on `port` answers `PING` with `PONG`.
fn ping(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, PING_TIMEOUT) else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.set_read_timeout(Some(PING_TIMEOUT)).is_ok()
        && stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
