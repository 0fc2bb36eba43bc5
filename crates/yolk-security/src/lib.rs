#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod config;
mod cookie;
pub mod csrf;
mod domain;
mod error;
mod extract;
mod future;
pub mod helpers;
mod layer;
mod methods;
mod path;
mod plugin;
mod redirect;
mod service;
mod ssrf;
mod state;

pub use config::{CsrfType, SecurityConfig};
pub use domain::DomainList;
pub use error::SecurityError;
pub use extract::{
    CspNonce, CsrfToken, RotateCsrfSecret, SafeRedirect, SecurityRejection, SkipSecurityHeaders,
};
pub use future::ResponseFuture;
pub use helpers::Helpers;
pub use layer::{SecurityHeader, SecurityLayer};
pub use plugin::Security;
pub use redirect::{RedirectPolicy, UnsafeRedirect, UnsafeRedirects};
pub use service::SecurityService;
pub use ssrf::{SafeClient, SsrfConnector, SsrfPolicy};
