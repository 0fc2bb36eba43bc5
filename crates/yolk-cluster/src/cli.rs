//! The command line of a cluster app: `start` (the default), `stop`, `status`, `reload`.
//!
//! ```
//! use clap::Parser;
//! use yolk_cluster::cli::{Cli, Command};
//!
//! // No subcommand means `start`.
//! let cli = Cli::parse_from(["app", "--port", "8080", "--workers", "2"]);
//! let start = cli.start_args().expect("a start");
//! assert_eq!((start.port, start.workers), (8080, Some(2)));
//! assert_eq!(start.env(), "local");
//!
//! let cli = Cli::parse_from(["app", "start", "--daemon"]);
//! assert_eq!(cli.start_args().unwrap().env(), "prod");
//!
//! let cli = Cli::parse_from(["app", "stop", "--title", "blog"]);
//! assert!(matches!(cli.command, Some(Command::Stop(_))));
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::ClusterError;

/// A yolk app's command line.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `start` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `start`'s options, when no subcommand is given.
    #[command(flatten)]
    pub start: StartArgs,
}

impl Cli {
    /// Gives every command without `--base-dir` the app's own base directory (the one its
    /// builder sets), so `start`, `stop` and `status` agree on `run/` from any working
    /// directory.
    ///
    /// ```
    /// use clap::Parser;
    /// use std::path::Path;
    /// use yolk_cluster::cli::{Cli, Command};
    ///
    /// let mut cli = Cli::parse_from(["app", "status"]);
    /// cli.default_base_dir(Path::new("/srv/app"));
    /// let Some(Command::Status(title)) = &cli.command else { unreachable!() };
    /// assert_eq!(title.base_dir.as_deref(), Some(Path::new("/srv/app")));
    /// ```
    pub fn default_base_dir(&mut self, dir: &std::path::Path) {
        let title = match &mut self.command {
            None => &mut self.start.title,
            Some(Command::Start(args)) => &mut args.title,
            Some(Command::Stop(args)) => &mut args.title,
            Some(Command::Status(title) | Command::Reload(title) | Command::RotateLogs(title)) => {
                title
            }
        };
        title.base_dir.get_or_insert_with(|| dir.to_owned());
    }

    /// The options of `start`, explicit or implied; `None` for the other commands.
    pub fn start_args(&self) -> Option<&StartArgs> {
        match &self.command {
            None => Some(&self.start),
            Some(Command::Start(args)) => Some(args),
            Some(_) => None,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the master, the agent and the workers (the default).
    Start(StartArgs),
    /// Stop a running master gracefully: drain, `before_close`, exit.
    Stop(StopArgs),
    /// Tell whether a master runs.
    Status(TitleArgs),
    /// Replace the workers one at a time with new ones from the binary on disk.
    Reload(TitleArgs),
    /// Rotate the log files now: SIGUSR1 to the master, which hands it to the agent.
    RotateLogs(TitleArgs),
}

/// Options of `start`.
#[derive(Clone, Debug, Args)]
pub struct StartArgs {
    /// Number of workers. Default: the CPUs this process may use.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Port to listen on; `0` picks a free one (shown in the ready line).
    #[arg(long, default_value_t = 7001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Environment. Default: `local`, or `prod` with `--daemon`.
    #[arg(long, env = "YOLK_ENV")]
    pub env: Option<String>,
    /// The master's title and base directory.
    #[command(flatten)]
    pub title: TitleArgs,
    /// Run agent and app in one process, without a master.
    #[arg(long, conflicts_with = "workers")]
    pub single: bool,
    /// Run in the background; return once every worker is ready.
    #[arg(long)]
    pub daemon: bool,
    /// With `--daemon`: the master's stdout log. Default: `logs/master-stdout.log`.
    #[arg(long, requires = "daemon")]
    pub stdout: Option<PathBuf>,
    /// With `--daemon`: the master's stderr log. Default: `logs/master-stderr.log`.
    #[arg(long, requires = "daemon")]
    pub stderr: Option<PathBuf>,
}

impl StartArgs {
    /// The environment: `--env` or `YOLK_ENV`, else `prod` with `--daemon`, else `local`.
    pub fn env(&self) -> String {
        match &self.env {
            Some(env) if !env.is_empty() => env.clone(),
            _ if self.daemon => "prod".to_owned(),
            _ => "local".to_owned(),
        }
    }

    /// The number of workers: `--workers`, else the CPUs this process may use.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
            .max(1)
    }
}

/// Which master: its title and base directory.
#[derive(Clone, Debug, Args)]
pub struct TitleArgs {
    /// The master's title, which keys its pid file `run/<title>.pid`. Default: the binary's
    /// name.
    #[arg(long)]
    pub title: Option<String>,
    /// The app's base directory (`config/`, `run/`, `logs/`). Default: the current directory.
    #[arg(long)]
    pub base_dir: Option<PathBuf>,
}

impl TitleArgs {
    /// The title, checked to be usable in a file name.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] (`InvalidInput`) when it is empty or holds characters other than
    /// letters, digits, `-`, `_` and `.`.
    pub fn title(&self) -> Result<String, ClusterError> {
        let title = match &self.title {
            Some(title) => title.clone(),
            None => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "yolk".to_owned()),
        };
        let valid = !title.is_empty()
            && !title.starts_with('.')
            && title
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid {
            Ok(title)
        } else {
            Err(ClusterError::io(
                format!("invalid `--title {title}`"),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "use letters, digits, `-`, `_` and `.` only",
                ),
            ))
        }
    }

    /// The base directory, absolute.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the current directory cannot be read.
    pub fn base_dir(&self) -> Result<PathBuf, ClusterError> {
        let cwd = std::env::current_dir()
            .map_err(|source| ClusterError::io("cannot read the current directory", source))?;
        Ok(match &self.base_dir {
            Some(dir) => cwd.join(dir),
            None => cwd,
        })
    }

    /// `run/<title>.pid` under the base directory.
    ///
    /// # Errors
    ///
    /// As [`TitleArgs::title`] and [`TitleArgs::base_dir`].
    pub fn pid_file(&self) -> Result<PathBuf, ClusterError> {
        Ok(self
            .base_dir()?
            .join("run")
            .join(format!("{}.pid", self.title()?)))
    }
}

/// Options of `stop`.
#[derive(Clone, Debug, Args)]
pub struct StopArgs {
    /// Which master.
    #[command(flatten)]
    pub title: TitleArgs,
    /// How long to wait for the master to exit, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

impl StopArgs {
    /// `--timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn env_defaults_follow_the_mode_unless_given() {
        let cli = Cli::parse_from(["app", "--daemon", "--env", "staging"]);
        assert_eq!(cli.start_args().unwrap().env(), "staging");
        let cli = Cli::parse_from(["app", "start", "--single"]);
        let start = cli.start_args().unwrap();
        assert!(start.single);
        assert_eq!(start.port, 7001);
        assert_eq!(start.host, "127.0.0.1");
    }

    #[test]
    fn worker_count_defaults_to_the_usable_cpus() {
        let cli = Cli::parse_from(["app"]);
        let expected = std::thread::available_parallelism().unwrap().get();
        assert_eq!(cli.start_args().unwrap().worker_count(), expected);
    }

    #[test]
    fn titles_must_be_file_names() {
        let args = TitleArgs {
            title: Some("../etc".to_owned()),
            base_dir: None,
        };
        assert!(args.title().unwrap_err().to_string().contains("--title"));
        let args = TitleArgs {
            title: Some("blog-1".to_owned()),
            base_dir: Some(PathBuf::from("app")),
        };
        assert!(args.pid_file().unwrap().ends_with("app/run/blog-1.pid"));
    }
}
