#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
pub mod dev;
mod error;
mod live;
mod plugin;
mod routes;
mod trace;

pub use config::DevelopmentConfig;
pub use error::DevelopmentError;
pub use live::{EVENTS_PATH, LiveState, live_middleware, live_routes, render_build_errors};
pub use plugin::Development;
pub use routes::trace_routes;
pub use trace::{ProcessTrace, read_traces, render_trace};
