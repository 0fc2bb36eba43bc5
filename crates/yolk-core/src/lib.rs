#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod app;
pub mod catch_panic;
pub mod config;
pub mod cookies;
mod error;
pub mod keys;
pub mod messenger;
pub mod middleware;
pub mod plugin;
pub mod request;
pub mod resources;
pub mod server;
pub mod services;
pub mod session;

pub use app::{App, AppBuilder, AppService, AppState};
pub use config::{Config, ConfigError};
pub use cookies::{CookieLayer, CookieOptions, Cookies};
pub use error::{BoxError, Error};
pub use keys::Keys;
pub use messenger::{Message, Messenger, MessengerError, Recipient};
pub use middleware::Middleware;
pub use plugin::{AppContext, Plugin};
pub use services::Inject;
