//! Typed singletons shared by the app (Egg's `app/service`), reached through [`Inject`].
//!
//! ```
//! use axum::routing::get;
//! use yolk_core::{App, Inject};
//!
//! #[derive(Debug)]
//! struct Greeter { greeting: &'static str }
//!
//! async fn hello(greeter: Inject<Greeter>) -> &'static str {
//!     greeter.greeting
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let app = App::builder()
//!     .base_dir(dir.path())
//!     .service(Greeter { greeting: "hi" })
//!     .route("/", get(hello))
//!     .build()
//!     .await?;
//! assert_eq!(app.context().get::<Greeter>().unwrap().greeting, "hi");
//! # Ok(())
//! # }
//! ```

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::app::AppState;

/// A map from type to one shared value of that type.
#[derive(Clone, Default)]
pub struct Services {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("count", &self.by_type.len())
            .finish()
    }
}

impl Services {
    /// Stores `value`, replacing an earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.insert_arc(Arc::new(value));
    }

    /// Stores an already shared value.
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.by_type.insert(TypeId::of::<T>(), value);
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|value| Arc::clone(value).downcast().ok())
    }
}

/// Extracts the service of type `T` registered with [`AppBuilder::service`] or
/// [`AppContext::provide`].
///
/// [`AppBuilder::service`]: crate::AppBuilder::service
/// [`AppContext::provide`]: crate::AppContext::provide
#[derive(Debug)]
pub struct Inject<T>(pub Arc<T>);

impl<T> Deref for Inject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T> FromRequestParts<S> for Inject<T>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = MissingService;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        AppState::from_ref(state)
            .services()
            .get::<T>()
            .map(Inject)
            .ok_or(MissingService {
                type_name: type_name::<T>(),
            })
    }
}

/// [`Inject`] found no service of its type.
#[derive(Debug, thiserror::Error)]
#[error(
    "no service of type `{type_name}`: register it with `App::builder().service(..)` or \
     `AppContext::provide` in a plugin's `did_load`"
)]
pub struct MissingService {
    type_name: &'static str,
}

impl IntoResponse for MissingService {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
