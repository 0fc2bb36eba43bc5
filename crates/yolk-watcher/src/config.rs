//! The `[watcher]` config section.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When the development source polls instead of using the operating system's notifications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polling {
    /// Native notifications (inotify, FSEvents, …); polling only for a path where they fail
    /// (an exhausted inotify limit, an unsupported file system). The default.
    #[default]
    Auto,
    /// Native notifications only: a path they cannot watch is an error.
    Never,
    /// Always poll: for mounts that send no notifications (Docker volumes on macOS, NFS, …).
    Always,
}

/// The `[watcher]` section.
///
/// ```
/// use yolk_watcher::{Polling, WatcherConfig};
///
/// let config = WatcherConfig::default();
/// assert_eq!(config.source, None);
/// assert_eq!(config.debounce_ms, 200);
/// assert_eq!(config.polling, Polling::Auto);
/// assert_eq!(config.poll_interval_ms, 500);
/// assert!(config.poll_compare_contents);
/// assert_eq!(config.request_timeout_ms, 5_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatcherConfig {
    /// The event source, by name (`type` in the file, as in Egg): `"development"` (real
    /// watching), `"default"` (watches nothing and warns), or a name registered with
    /// [`WatcherPlugin::event_source`](crate::WatcherPlugin::event_source). Default: unset,
    /// which means `"development"` in the `local` and `unittest` environments and `"default"`
    /// in every other.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How long a path must stay quiet before its changes are reported, in milliseconds: a
    /// burst of writes becomes one call. Default: `200`.
    pub debounce_ms: u64,
    /// When to poll instead of using native notifications. Default: `"auto"`.
    pub polling: Polling,
    /// How often the poller scans, in milliseconds. Default: `500`.
    pub poll_interval_ms: u64,
    /// Whether the poller also hashes file contents. notify's poller compares modification
    /// times in whole seconds, so without it a second save within the same second is missed;
    /// turn it off for very large trees. Default: `true`.
    pub poll_compare_contents: bool,
    /// How long a worker waits for the agent to take a watch, in milliseconds. Default: `5000`.
    pub request_timeout_ms: u64,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        Self {
            source: None,
            debounce_ms: 200,
            polling: Polling::Auto,
            poll_interval_ms: 500,
            poll_compare_contents: true,
            request_timeout_ms: 5_000,
        }
    }
}

impl WatcherConfig {
    /// The event source's name for the environment `env`: the configured one, else
    /// `"development"` in `local` and `unittest`, `"default"` elsewhere.
    ///
    /// ```
    /// use yolk_watcher::WatcherConfig;
    ///
    /// let config = WatcherConfig::default();
    /// assert_eq!(config.source_for("local"), "development");
    /// assert_eq!(config.source_for("prod"), "default");
    /// ```
    pub fn source_for(&self, env: &str) -> &str {
        match &self.source {
            Some(name) => name,
            None if matches!(env, "local" | "unittest") => "development",
            None => "default",
        }
    }

    /// [`debounce_ms`](Self::debounce_ms) as a [`Duration`].
    pub fn debounce(&self) -> Duration {
        Duration::from_millis(self.debounce_ms)
    }

    /// [`poll_interval_ms`](Self::poll_interval_ms) as a [`Duration`].
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }

    /// [`request_timeout_ms`](Self::request_timeout_ms) as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}
