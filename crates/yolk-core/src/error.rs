use std::time::Duration;

use crate::config::ConfigError;
use crate::keys::KeysError;
use crate::middleware::MiddlewareError;
use crate::plugin::{Hook, PluginError};

/// Any error, boxed: what hooks return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an app could not start, serve or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The plugin graph is invalid.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The middleware settings are invalid.
    #[error(transparent)]
    Middleware(#[from] MiddlewareError),
    /// The keys are unusable.
    #[error("invalid `keys`: {0}")]
    Keys(#[from] KeysError),
    /// A lifecycle hook failed.
    #[error("plugin `{plugin}` failed in `{hook}`: {source}")]
    Hook {
        /// The plugin, or `app`.
        plugin: String,
        /// The hook.
        hook: Hook,
        /// Its error.
        #[source]
        source: BoxError,
    },
    /// A lifecycle hook did not finish in time.
    #[error(
        "plugin `{plugin}` did not finish `{hook}` within {timeout:?}; raise `hook_timeout_ms` \
         if it needs longer"
    )]
    HookTimeout {
        /// The plugin.
        plugin: String,
        /// The hook.
        hook: Hook,
        /// The limit.
        timeout: Duration,
    },
    /// The server could not bind or serve.
    #[error("server error on {address}: {source}")]
    Serve {
        /// The address.
        address: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
