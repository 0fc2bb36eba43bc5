#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod job;
mod lock;
mod log;
mod plugin;
mod scheduler;
mod trigger;

pub use config::{JobConfig, ScheduleConfig};
pub use error::ScheduleError;
pub use job::{BoxFuture, Job, JobContext, JobType, Task};
pub use log::JobLogger;
pub use plugin::{PluginJobs, Schedule, is_scheduled, register};
pub use scheduler::{JobStats, Outcome, REPORT_TOPIC, RUN_TOPIC, Report, Scheduler};
pub use trigger::{Trigger, Zone};
