//! The `[schedule]` config section.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `[schedule]` section: where runs are logged, the Redis for `cluster` jobs, and per-job
/// overrides of what the code registered.
///
/// ```
/// use yolk_schedule::ScheduleConfig;
///
/// let config: ScheduleConfig = toml::from_str(
///     r#"
///     redis_url = "redis://127.0.0.1:6379/"
///     [jobs.sweep]
///     interval = "30s"
///     "#,
/// )
/// .unwrap();
/// assert!(config.skip_if_running);
/// assert_eq!(config.jobs["sweep"].interval.as_deref(), Some("30s"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When a job is still running on a worker as its next tick reaches that worker, skip the
    /// tick (and log it) instead of starting a second run. Default: `true`.
    pub skip_if_running: bool,
    /// The schedule log, relative to the app's base directory: one line per run with its
    /// outcome and duration. Default: `"logs/yolk-schedule.log"`.
    pub log_file: String,
    /// The Redis that holds the per-tick locks of `type = "cluster"` jobs (use the one the
    /// session store uses), e.g. `"redis://127.0.0.1:6379/"`. Default: none.
    pub redis_url: Option<String>,
    /// The prefix of the lock keys in Redis; a key is `{prefix}{app}:{job}:{tick}`.
    /// Default: `"yolk-schedule:"`.
    pub lock_prefix: String,
    /// How long a tick's lock lives in Redis, in milliseconds: longer than the clock skew
    /// between machines. Default: `60000`.
    pub lock_ttl_ms: u64,
    /// Per-job overrides, by job name. Default: none.
    pub jobs: BTreeMap<String, JobConfig>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            skip_if_running: true,
            log_file: "logs/yolk-schedule.log".to_owned(),
            redis_url: None,
            lock_prefix: "yolk-schedule:".to_owned(),
            lock_ttl_ms: 60_000,
            jobs: BTreeMap::new(),
        }
    }
}

/// Overrides of one job, `[schedule.jobs.NAME]`; each field left out keeps what the code set.
///
/// ```
/// use yolk_schedule::JobConfig;
///
/// let job: JobConfig = toml::from_str(r#"disable = true"#).unwrap();
/// assert_eq!(job.disable, Some(true));
/// assert_eq!(job.cron, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobConfig {
    /// Turns the job off (`true`) or on. Default: as registered.
    pub disable: Option<bool>,
    /// Replaces the trigger with an interval (`"10s"`). Default: as registered.
    pub interval: Option<String>,
    /// Replaces the trigger with a cron expression (6 fields, seconds first).
    /// Default: as registered.
    pub cron: Option<String>,
    /// The cron expression's time zone (IANA name, or `local`). Default: as registered, else
    /// UTC.
    pub time_zone: Option<String>,
    /// Runs once right after ready. Default: as registered.
    pub immediate: Option<bool>,
    /// Only in these environments. Default: as registered.
    pub env: Option<Vec<String>>,
    /// Overrides `[schedule] skip_if_running` for this job. Default: as registered.
    pub skip_if_running: Option<bool>,
}
