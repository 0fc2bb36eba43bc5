//! [`SessionAccess`]: how a plugin reads and writes the request's session without depending on
//! the session plugin's crate.
//!
//! The session plugin implements [`SessionAccess`] and registers it as the service
//! [`DynSessionAccess`]; a plugin that wants the session (security's CSRF with
//! `use_session = true`) lists `session` in its
//! [`optional_dependencies`](crate::Plugin::optional_dependencies), looks the service up in
//! `did_load`, and fails start-up with a message naming the fix when it is missing.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use http::request::Parts;
//! use yolk_core::session::{DynSessionAccess, SessionAccess, SessionFuture};
//!
//! /// A "session" an outer layer puts in every request's extensions.
//! #[derive(Clone, Default)]
//! struct Bag(Arc<Mutex<HashMap<String, String>>>);
//!
//! #[derive(Debug)]
//! struct BagAccess;
//!
//! impl SessionAccess for BagAccess {
//!     fn get<'a>(&'a self, parts: &'a Parts, key: &'a str) -> SessionFuture<'a, Option<String>> {
//!         Box::pin(async move {
//!             let bag = parts.extensions.get::<Bag>().ok_or("no session layer")?;
//!             Ok(bag.0.lock().unwrap().get(key).cloned())
//!         })
//!     }
//!
//!     fn set<'a>(&'a self, parts: &'a Parts, key: &'a str, value: &'a str) -> SessionFuture<'a, ()> {
//!         Box::pin(async move {
//!             let bag = parts.extensions.get::<Bag>().ok_or("no session layer")?;
//!             bag.0.lock().unwrap().insert(key.to_owned(), value.to_owned());
//!             Ok(())
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), yolk_core::BoxError> {
//! let access = DynSessionAccess::new(BagAccess);
//! let (mut parts, ()) = http::Request::new(()).into_parts();
//! parts.extensions.insert(Bag::default());
//! access.set(&parts, "csrfToken", "s3cret").await?;
//! assert_eq!(access.get(&parts, "csrfToken").await?.as_deref(), Some("s3cret"));
//!
//! let (bare, ()) = http::Request::new(()).into_parts();
//! assert!(access.get(&bare, "csrfToken").await.is_err());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;

use crate::error::BoxError;

/// The future a [`SessionAccess`] method returns.
pub type SessionFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'a>>;

/// Per-request access to the session as string values under string keys: implemented by the
/// session plugin, used by plugins that keep something in the session.
///
/// Both methods find the session through what the session layer put in the request (`parts`
/// as the request arrived, its extensions carrying the session), so the session layer must
/// run outside the caller's layer — which plugin order gives when the caller lists `session`
/// among its dependencies. The first call of a request may load the session (decrypt the
/// cookie, or read an external store); a change is saved with the response, as any change
/// made through the session extractor.
///
/// The trait is object-safe: it is shared as [`DynSessionAccess`]. See the
/// [module docs](self) for an implementation.
pub trait SessionAccess: Send + Sync + fmt::Debug + 'static {
    /// The string under `key` in this request's session; `None` when there is none (or the
    /// value is not a string).
    ///
    /// # Errors
    ///
    /// The request did not go through the session layer, or the session could not be loaded
    /// (an external store that is down).
    fn get<'a>(&'a self, parts: &'a Parts, key: &'a str) -> SessionFuture<'a, Option<String>>;

    /// Sets `key` to `value` in this request's session.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), or the session refused the value (a cookie session that would
    /// grow over the browser's limit).
    fn set<'a>(&'a self, parts: &'a Parts, key: &'a str, value: &'a str) -> SessionFuture<'a, ()>;
}

/// A shared [`SessionAccess`]: the service the session plugin registers (services are found
/// by type, so the trait object is wrapped in this one type).
///
/// ```
/// # use yolk_core::session::{DynSessionAccess, SessionAccess, SessionFuture};
/// # #[derive(Debug)] struct Nothing;
/// # impl SessionAccess for Nothing {
/// #     fn get<'a>(&'a self, _: &'a http::request::Parts, _: &'a str) -> SessionFuture<'a, Option<String>> { Box::pin(async { Ok(None) }) }
/// #     fn set<'a>(&'a self, _: &'a http::request::Parts, _: &'a str, _: &'a str) -> SessionFuture<'a, ()> { Box::pin(async { Ok(()) }) }
/// # }
/// let mut services = yolk_core::services::Services::default();
/// services.insert(DynSessionAccess::new(Nothing));
/// let access = services.get::<DynSessionAccess>().expect("registered");
/// let shared: std::sync::Arc<dyn SessionAccess> = access.to_arc();
/// # let _ = shared;
/// ```
#[derive(Clone, Debug)]
pub struct DynSessionAccess(Arc<dyn SessionAccess>);

impl DynSessionAccess {
    /// Wraps `access`.
    pub fn new(access: impl SessionAccess) -> Self {
        Self(Arc::new(access))
    }

    /// Wraps an already shared implementation.
    pub fn from_arc(access: Arc<dyn SessionAccess>) -> Self {
        Self(access)
    }

    /// The implementation, shared.
    pub fn to_arc(&self) -> Arc<dyn SessionAccess> {
        Arc::clone(&self.0)
    }
}

impl Deref for DynSessionAccess {
    type Target = dyn SessionAccess;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
