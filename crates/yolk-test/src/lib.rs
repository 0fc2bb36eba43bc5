#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod app;
#[cfg(feature = "cluster")]
pub mod cluster;
mod jar;
pub mod net;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
mod response;

pub use app::{DEFAULT_PEER, TestApp, UNITTEST_ENV};
pub use request::TestRequest;
pub use response::{JsonBodyError, TestResponse};
