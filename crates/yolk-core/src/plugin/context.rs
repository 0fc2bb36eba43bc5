use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::{AppConfig, Config};
use crate::keys::Keys;
use crate::messenger::Messenger;
use crate::services::Services;

/// Which part this process plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Agent and app in one process: `--single`, tests, plain `listen`.
    Single,
    /// The agent of a cluster: runs agent work, serves no traffic.
    Agent,
    /// A worker of a cluster: serves traffic.
    Worker,
}

impl Role {
    /// True when this process runs the plugins' agent work.
    pub fn runs_agent(self) -> bool {
        matches!(self, Self::Single | Self::Agent)
    }

    /// True when this process serves requests.
    pub fn serves(self) -> bool {
        matches!(self, Self::Single | Self::Worker)
    }

    /// `agent` for the agent, `application` otherwise: the prefix of this process's files
    /// under `run/`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Single | Self::Worker => "application",
        }
    }
}

/// What every hook sees: config, keys, messenger, services.
#[derive(Debug)]
pub struct AppContext {
    pub(crate) config: Config,
    pub(crate) app_config: AppConfig,
    pub(crate) keys: Keys,
    pub(crate) role: Role,
    pub(crate) messenger: Arc<dyn Messenger>,
    pub(crate) services: Mutex<Services>,
}

impl AppContext {
    /// The app's name.
    pub fn name(&self) -> &str {
        &self.app_config.name
    }

    /// The environment: `local`, `unittest`, `prod`, …
    pub fn env(&self) -> &str {
        self.config.env()
    }

    /// The app's base directory (`config/`, `run/`).
    pub fn base_dir(&self) -> &Path {
        self.config.base_dir()
    }

    /// The merged configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The app's top-level settings.
    pub fn app_config(&self) -> &AppConfig {
        &self.app_config
    }

    /// The keys for signing and encrypting.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The part this process plays.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The messenger to the agent and the workers.
    pub fn messenger(&self) -> &Arc<dyn Messenger> {
        &self.messenger
    }

    /// Registers a service for [`Inject`](crate::Inject). Services provided after `did_load`
    /// are not seen by requests.
    pub fn provide<T: Send + Sync + 'static>(&self, value: T) {
        self.lock_services().insert(value);
    }

    /// Registers a service already shared elsewhere.
    pub fn provide_arc<T: Send + Sync + 'static>(&self, value: Arc<T>) {
        self.lock_services().insert_arc(value);
    }

    /// The service of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.lock_services().get::<T>()
    }

    pub(crate) fn services_snapshot(&self) -> Services {
        self.lock_services().clone()
    }

    fn lock_services(&self) -> std::sync::MutexGuard<'_, Services> {
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
