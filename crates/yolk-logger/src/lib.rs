#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod clock;
pub mod config;
mod context;
mod error;
pub mod extract;
mod format;
pub mod layer;
pub mod loggers;
pub mod plugin;
pub mod rotate;
pub mod service;
pub mod writer;

pub use config::{Level, LoggerConfig, LoggerEntry, OnFull, Rotate};
pub use context::set_user_id;
pub use error::LoggerError;
pub use extract::{LogContext, LogContextRejection};
pub use layer::RequestLogLayer;
pub use loggers::{CONSOLE_LEVEL_VAR, LogFile, LogLayer, Loggers, LoggersBuilder};
pub use plugin::{
    CHECK_SIZE_JOB, Logger, PID_FILE, REOPEN_TOPIC, ROTATE_JOB, ROTATE_TOPIC, pid_file, rotate_logs,
};
pub use rotate::{Rotated, Rotator, Trigger};
pub use service::REQUEST_TARGET;
pub use writer::{FileWriter, WriterOptions};
