//! In development: the build-error page for browser navigations while the build is broken,
//! and live reload — a small script injected into HTML pages that reloads them once the next
//! build is serving, over server-sent events.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, StatusCode, header};

use crate::dev::{BuildStatus, STATUS_FILE, strip_ansi};

/// Where the live-reload script listens.
pub const EVENTS_PATH: &str = "/__yolk_dev/events";

/// The largest HTML page the script is injected into; larger ones pass untouched.
const INJECT_LIMIT: usize = 8 * 1024 * 1024;

const SCRIPT: &str = r#"<script>(()=>{let seen;const source=new EventSource("/__yolk_dev/events");source.onmessage=(event)=>{if(seen===undefined){seen=event.data}else if(event.data!==seen){source.close();location.reload()}}})();</script>"#;

/// The dev loop's last build, as the running workers see it: re-read from
/// `run/dev_build.json` whenever the file changes.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let state = yolk_development::LiveState::new(dir.path());
/// assert_eq!(state.current().generation, 0);
/// ```
#[derive(Clone, Debug)]
pub struct LiveState {
    path: Arc<PathBuf>,
    current: Arc<RwLock<(Option<SystemTime>, BuildStatus)>>,
}

impl LiveState {
    /// The state of the app whose base directory is `base_dir`, read now.
    pub fn new(base_dir: &std::path::Path) -> Self {
        let state = Self {
            path: Arc::new(base_dir.join(STATUS_FILE)),
            current: Arc::new(RwLock::new((
                None,
                BuildStatus {
                    generation: 0,
                    errors: Vec::new(),
                },
            ))),
        };
        state.refresh();
        state
    }

    /// The last build's status.
    pub fn current(&self) -> BuildStatus {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
            .clone()
    }

    /// Re-reads the file if it changed.
    pub fn refresh(&self) {
        let modified = std::fs::metadata(&*self.path)
            .and_then(|m| m.modified())
            .ok();
        let known = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
        if modified.is_none() || modified == known {
            return;
        }
        let Ok(text) = std::fs::read(&*self.path) else {
            return;
        };
        let Ok(status) = serde_json::from_slice::<BuildStatus>(&text) else {
            return;
        };
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (modified, status);
    }

    /// Re-reads the file every `interval` for the life of the process.
    pub fn poll(&self, interval: Duration) {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                state.refresh();
            }
        });
    }
}

/// The live-reload route: each connection gets the current generation and a one-second retry,
/// then ends, so no long-lived stream holds up a worker's drain.
pub fn live_routes<S>(state: LiveState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        EVENTS_PATH,
        get(move || {
            let state = state.clone();
            async move {
                let body = format!("retry: 1000\ndata: {}\n\n", state.current().generation);
                (
                    [
                        (header::CONTENT_TYPE, "text/event-stream"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    body,
                )
            }
        }),
    )
}

/// The middleware: the build-error page for browser navigations while the build is broken;
/// the live-reload script injected into every other HTML page.
pub async fn live_middleware(state: LiveState, request: Request, next: Next) -> Response {
    let navigation = request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if navigation {
        let status = state.current();
        if !status.errors.is_empty() {
            return error_page(&status).into_response();
        }
    }
    let response = next.run(request).await;
    if !navigation || !is_html(&response) {
        return response;
    }
    inject(response).await
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

async fn inject(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, INJECT_LIMIT).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "page too large to inject live reload into",
        )
            .into_response();
    };
    let mut html = String::from_utf8_lossy(&bytes).into_owned();
    match html.rfind("</body>") {
        Some(at) => html.insert_str(at, SCRIPT),
        None => html.push_str(SCRIPT),
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(html))
}

/// The build-error page: each error's message, file and line, and the compiler's text.
///
/// ```
/// use yolk_development::dev::{BuildStatus, CompileError};
///
/// let status = BuildStatus {
///     generation: 1,
///     errors: vec![CompileError {
///         message: "mismatched types".into(),
///         file: Some("src/lib.rs".into()),
///         line: Some(34),
///         column: Some(5),
///         rendered: "error[E0308]: mismatched types".into(),
///     }],
/// };
/// let page = yolk_development::render_build_errors(&status);
/// assert!(page.contains("src/lib.rs:34:5"));
/// ```
pub fn render_build_errors(status: &BuildStatus) -> String {
    let mut items = String::new();
    for error in &status.errors {
        let place = match (&error.file, error.line, error.column) {
            (Some(file), Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(file), Some(line), None) => format!("{file}:{line}"),
            (Some(file), None, _) => file.clone(),
            _ => String::new(),
        };
        items.push_str(&format!(
            "<section><h2>{}</h2><p class=place>{}</p><pre>{}</pre></section>",
            html_escape::encode_text(&error.message),
            html_escape::encode_text(&place),
            html_escape::encode_text(&strip_ansi(&error.rendered))
        ));
    }
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Build failed</title><style>
body{{font:14px system-ui,sans-serif;margin:24px;color:#212529}}h1{{color:#c92a2a;font-size:22px}}
section{{border-left:4px solid #c92a2a;padding:4px 16px;margin:16px 0;background:#fff5f5}}h2{{font-size:16px;margin:8px 0}}
.place{{font-family:ui-monospace,monospace;color:#1864ab}}pre{{background:#212529;color:#f8f9fa;padding:12px;border-radius:6px;overflow-x:auto}}
</style></head><body><h1>Build failed: {} error(s)</h1><p>The last good build keeps serving other requests; this page reloads itself once a build succeeds.</p>{items}{SCRIPT}</body></html>"#,
        status.errors.len()
    )
}

fn error_page(status: &BuildStatus) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CACHE_CONTROL, "no-store")],
        Html(render_build_errors(status)),
    )
        .into_response()
}
