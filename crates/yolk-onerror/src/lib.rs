#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod future;
mod layer;
mod panic;
mod plugin;
pub mod render;
mod report;
mod request;
mod service;

pub use config::{NotFoundConfig, OnErrorConfig};
pub use error::{BoxError, HttpError, Result};
pub use future::ResponseFuture;
pub use layer::{ChooseKind, ErrorFilter, OnErrorLayer, RenderError};
pub use plugin::{DETAIL_ENVS, OnError};
pub use report::{ErrorReport, Failure, PanicDetails};
pub use request::{RequestHead, ResponseKind};
pub use service::OnErrorService;
