#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod app;
mod jar;
mod request;
mod response;

pub use app::{DEFAULT_PEER, TestApp, UNITTEST_ENV};
pub use request::TestRequest;
pub use response::{JsonBodyError, TestResponse};
