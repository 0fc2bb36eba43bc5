//! [`SessionLayerAccess`]: the session as core's [`SessionAccess`], for other plugins.

use http::request::Parts;
use yolk_core::session::{SessionAccess, SessionFuture};

use crate::extract::extract;
use crate::session::SessionSlot;

/// Core's [`SessionAccess`] over [`SessionLayer`](crate::SessionLayer)'s sessions: what
/// [`SessionPlugin`](crate::SessionPlugin) registers as the service
/// [`DynSessionAccess`](yolk_core::session::DynSessionAccess), so that other plugins (the
/// security plugin's CSRF with `use_session = true`) keep string values in the session
/// without depending on this crate. A plain axum app passes it to them itself.
///
/// Values are the session's JSON strings: what `Session::insert(key, "…")` writes and
/// `Session::get::<String>(key)` reads.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, header};
/// use tower::ServiceExt;
/// use yolk_core::session::SessionAccess;
/// use yolk_session::{Session, SessionLayer, SessionLayerAccess};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/", get(|session: Session| async move {
///         session.get::<String>("note").unwrap().unwrap_or_default()
///     }))
///     .layer(axum::middleware::from_fn(|request: axum::extract::Request, next: axum::middleware::Next| async move {
///         let (parts, body) = request.into_parts();
///         SessionLayerAccess.set(&parts, "note", "written from outside").await.unwrap();
///         next.run(axum::extract::Request::from_parts(parts, body)).await
///     }))
///     .layer(SessionLayer::new(yolk_core::Keys::parse("a-long-random-secret")?));
/// let response = app.oneshot(Request::new(Body::empty())).await?;
/// assert!(response.headers()[header::SET_COOKIE].to_str()?.starts_with("YOLK_SESS="));
/// let body = axum::body::to_bytes(response.into_body(), 64).await?;
/// assert_eq!(body, "written from outside");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionLayerAccess;

impl SessionAccess for SessionLayerAccess {
    fn get<'a>(&'a self, parts: &'a Parts, key: &'a str) -> SessionFuture<'a, Option<String>> {
        Box::pin(async move {
            let session = session(parts).await?;
            Ok(session
                .get::<serde_json::Value>(key)?
                .and_then(|value| match value {
                    serde_json::Value::String(text) => Some(text),
                    _ => None,
                }))
        })
    }

    fn set<'a>(&'a self, parts: &'a Parts, key: &'a str, value: &'a str) -> SessionFuture<'a, ()> {
        Box::pin(async move {
            session(parts).await?.insert(key, value)?;
            Ok(())
        })
    }
}

async fn session(parts: &Parts) -> Result<crate::Session, crate::SessionRejection> {
    let Some(slot) = parts.extensions.get::<SessionSlot>().cloned() else {
        return Err(crate::SessionRejection::MissingSessionLayer {
            json: yolk_core::request::accepts_json(&parts.headers, parts.uri.path()),
        });
    };
    extract(parts, slot).await
}
