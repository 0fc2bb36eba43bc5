//! The crate's one error type.

/// What went wrong while registering, configuring or running jobs.
///
/// ```
/// use yolk_schedule::{Job, ScheduleError, Scheduler};
///
/// let error = Scheduler::local()
///     .job(Job::interval("sweep", "ten seconds", |_| async { Ok(()) }))
///     .unwrap_err();
/// assert!(matches!(error, ScheduleError::Interval { .. }));
/// assert!(error.to_string().contains("`sweep`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// An `interval` that is not a positive duration such as `"500ms"`, `"10s"`, `"5m"`.
    #[error(
        "job `{job}`: interval `{value}` is not a duration; write a positive number with a unit: \
         `500ms`, `10s`, `5m`, `1h`, `1d`"
    )]
    Interval {
        /// The job.
        job: String,
        /// What was given.
        value: String,
    },
    /// A `cron` expression that does not parse.
    #[error(
        "job `{job}`: cron `{value}` does not parse ({reason}); write 6 fields, seconds first, \
         e.g. `0 30 2 * * *` for 02:30:00 every day"
    )]
    Cron {
        /// The job.
        job: String,
        /// What was given.
        value: String,
        /// The parser's reason.
        reason: String,
    },
    /// A time zone that is neither an IANA name nor `local`.
    #[error(
        "job `{job}`: time zone `{value}` is unknown; use an IANA name such as `Europe/Berlin`, \
         or `local` for this machine's zone"
    )]
    TimeZone {
        /// The job.
        job: String,
        /// What was given.
        value: String,
    },
    /// Two jobs with one name.
    #[error("job `{job}` is registered twice; job names are unique in an app")]
    Duplicate {
        /// The job.
        job: String,
    },
    /// No job of that name.
    #[error("no job is named `{job}`; the jobs are: {known}")]
    UnknownJob {
        /// The name asked for.
        job: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A `type = "cluster"` job without a Redis to hold its lock.
    #[error(
        "job `{job}` has type `cluster`, which needs a Redis for its lock: set `[schedule] \
         redis_url` (the Redis the session store uses) or `Scheduler::with_redis_url`"
    )]
    NoRedis {
        /// The job.
        job: String,
    },
    /// The Redis lock could not be taken or the Redis could not be reached.
    #[error("the Redis lock for job `{job}`: {source}")]
    Lock {
        /// The job.
        job: String,
        /// The Redis error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The schedule log could not be written.
    #[error("cannot write the schedule log `{path}`: {source}")]
    Log {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
