//! The development routes, for a yolk app (through the plugin) and for plain axum alike.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode, Uri, header};

use crate::trace::{read_traces, render_trace};

/// The boot trace page at `path`, drawn from the timing files under `run_dir`.
///
/// ```
/// use axum::Router;
///
/// let dir = tempfile::tempdir().unwrap();
/// let app: Router = yolk_development::trace_routes("/__loader_trace__", dir.path().join("run"), true);
/// # let _ = app;
/// ```
pub fn trace_routes<S>(path: &str, run_dir: impl Into<PathBuf>, live_only: bool) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let run_dir: Arc<PathBuf> = Arc::new(run_dir.into());
    Router::new().route(
        path,
        get(move |headers: HeaderMap, uri: Uri| {
            let run_dir = run_dir.clone();
            async move { trace_page(&run_dir, live_only, &headers, uri.path()) }
        }),
    )
}

fn trace_page(
    run_dir: &std::path::Path,
    live_only: bool,
    headers: &HeaderMap,
    path: &str,
) -> Response {
    match read_traces(run_dir, live_only) {
        Ok(traces) => (
            [(header::CACHE_CONTROL, "no-store")],
            Html(render_trace(&traces)),
        )
            .into_response(),
        Err(error) => {
            let message = format!("cannot draw the boot trace: {error}");
            if yolk_core::request::accepts_json(headers, path) {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(serde_json::json!({ "message": message })),
                )
                    .into_response()
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
            }
        }
    }
}
