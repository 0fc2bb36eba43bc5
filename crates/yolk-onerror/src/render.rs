//! The built-in bodies — JSON, HTML (a developer page or a plain page), text — for hooks that
//! wrap them or fall back to them.

use std::fmt::Write as _;

use axum::body::Body;
use axum::response::Response;
use html_escape::encode_text;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION};
use http::{HeaderValue, StatusCode};

use crate::report::Failure;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// `500 Internal Server Error`.
pub(crate) fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    )
}

fn response(status: StatusCode, content_type: HeaderValue, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// A 302 to `location`.
pub(crate) fn redirect(location: HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    response.headers_mut().insert(LOCATION, location);
    response
}

/// `{"code": .., "message": ..}`; with details also `name`, `status`, `sources` and, for a
/// panic, `location` and `backtrace`.
///
/// A hook can wrap it, here to add a header to every JSON error:
///
/// ```
/// use axum::{response::Response, routing::get, Router};
/// use http::{Request, HeaderValue};
/// use tower::ServiceExt;
/// use yolk_onerror::{render, Failure, HttpError, OnErrorLayer};
///
/// fn json_with_docs(failure: &Failure<'_>) -> Response {
///     let mut response = render::json(failure);
///     response.headers_mut().insert("link", HeaderValue::from_static("</docs/errors>; rel=help"));
///     response
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/", get(|| async { Err::<(), _>(HttpError::forbidden("not yours")) }))
///     .layer(OnErrorLayer::new().on_json(json_with_docs));
/// let request = Request::get("/").header("accept", "application/json").body(String::new())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// assert_eq!(response.headers()["link"], "</docs/errors>; rel=help");
/// # Ok(())
/// # }
/// ```
pub fn json(failure: &Failure<'_>) -> Response {
    let error = failure.error();
    let mut body = serde_json::json!({
        "code": error.code(),
        "message": error.public_message(failure.details()),
    });
    if failure.details() {
        body["name"] = error.name().into();
        body["status"] = error.status().as_u16().into();
        body["sources"] = error.sources().into();
        if let Some(panic) = error.panic() {
            body["location"] = panic.location.clone().into();
            body["backtrace"] = panic.backtrace.clone().into();
        }
    }
    response(error.status(), JSON, body.to_string())
}

/// The message (a 5xx's status line without details); with details also the name, the
/// causes and a panic's location and backtrace.
///
/// ```
/// use axum::{response::Response, routing::get, Router};
/// use http::Request;
/// use http_body_util::BodyExt;
/// use tower::ServiceExt;
/// use yolk_onerror::{render, Failure, HttpError, OnErrorLayer, RequestHead, ResponseKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // every client gets text
/// let layer = OnErrorLayer::new().on_all(|failure: &Failure<'_>| render::text(failure));
/// let app = Router::new()
///     .route("/", get(|| async { Err::<(), _>(HttpError::bad_request("no name")) }))
///     .layer(layer);
/// let response = app.oneshot(Request::get("/").body(String::new())?).await?;
/// assert_eq!(response.into_body().collect().await?.to_bytes(), "no name\n");
/// # Ok(())
/// # }
/// ```
pub fn text(failure: &Failure<'_>) -> Response {
    let error = failure.error();
    let mut body = if failure.details() {
        format!("{}: {}", error.name(), error.message())
    } else if error.status().is_server_error() {
        status_line(error.status())
    } else {
        error.message().to_owned()
    };
    if failure.details() {
        for source in error.sources() {
            let _ = write!(body, "\ncaused by: {source}");
        }
        if let Some(panic) = error.panic() {
            if let Some(location) = &panic.location {
                let _ = write!(body, "\nat {location}");
            }
            if let Some(backtrace) = &panic.backtrace {
                let _ = write!(body, "\n{backtrace}");
            }
        }
    }
    body.push('\n');
    response(error.status(), TEXT, body)
}

/// With details, the developer page (self-contained, everything escaped, cookie and
/// credential values masked); otherwise a plain `<h2>500 Internal Server Error</h2>` page.
///
/// ```
/// use axum::{routing::get, Router};
/// use http::Request;
/// use http_body_util::BodyExt;
/// use tower::ServiceExt;
/// use yolk_onerror::{render, Failure, HttpError, OnErrorLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // every client gets HTML, JSON clients too
/// let layer = OnErrorLayer::new().on_all(|failure: &Failure<'_>| render::html(failure));
/// let app = Router::new()
///     .route("/", get(|| async { Err::<(), _>(HttpError::internal("<db> down")) }))
///     .layer(layer.with_details(true));
/// let request = Request::get("/").header("accept", "application/json").body(String::new())?;
/// let response = app.oneshot(request).await?;
/// let page = response.into_body().collect().await?.to_bytes();
/// let page = String::from_utf8_lossy(&page);
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("&lt;db&gt; down"));
/// # Ok(())
/// # }
/// ```
pub fn html(failure: &Failure<'_>) -> Response {
    let status = failure.error().status();
    if failure.details() {
        return response(status, HTML, dev_page(failure));
    }
    let line = status_line(status);
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{line}</title></head>\
         <body><h2>{line}</h2></body></html>"
    );
    response(status, HTML, body)
}

/// The 404 answer for a request nothing handled.
pub(crate) fn not_found_json() -> Response {
    response(
        StatusCode::NOT_FOUND,
        JSON,
        r#"{"message":"Not Found"}"#.to_owned(),
    )
}

pub(crate) fn not_found_html(page_url_missing: Option<&str>) -> Response {
    let mut body = "<h1>404 Not Found</h1>".to_owned();
    if let Some(url) = page_url_missing {
        let _ = write!(
            body,
            "<p>Oops! The page you asked for was not found, and the not-found page \
             (notfound.page_url = {}) does not exist either.</p>",
            encode_text(url)
        );
    }
    response(StatusCode::NOT_FOUND, HTML, body)
}

pub(crate) fn not_found_text() -> Response {
    response(StatusCode::NOT_FOUND, TEXT, "Not Found\n".to_owned())
}

/// Header names whose values are never printed.
fn is_secret_header(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "x-csrf-token" | "x-xsrf-token"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("api-key")
}

/// `a=***; b=***`: the names of the cookies, not their values.
fn mask_cookies(value: &str) -> String {
    value
        .split(';')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("").trim();
            format!("{name}=***")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa}\
header{background:#b42318;color:#fff;padding:28px 40px}\
header.client{background:#b54708}\
header .status{font-size:14px;letter-spacing:.06em;text-transform:uppercase;opacity:.85}\
header h1{margin:6px 0 4px;font-size:26px;font-weight:600;word-break:break-word}\
header .name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:14px;opacity:.9}\
main{padding:24px 40px 40px;max-width:1200px}\
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:0 0 20px;overflow:hidden}\
section h2{margin:0;padding:10px 16px;font-size:13px;letter-spacing:.05em;text-transform:uppercase;color:#57606a;background:#f6f8fa;border-bottom:1px solid #d0d7de}\
section .body{padding:12px 16px}\
ol.chain{margin:0;padding-left:22px}ol.chain li{margin:4px 0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}\
pre{margin:0;padding:12px 16px;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;max-height:520px;overflow:auto}\
table{border-collapse:collapse;width:100%;font-size:13px}\
td{padding:5px 16px;border-top:1px solid #eaeef2;vertical-align:top;word-break:break-all}\
tr:first-child td{border-top:0}\
td.k{width:220px;color:#57606a;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}\
td.v{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
.muted{color:#6e7781}\
footer{padding:0 40px 30px;color:#6e7781;font-size:12px}";

/// The developer page: status, message, causes, panic location and backtrace, the request
/// (cookie and credential values masked) and the effective config (secrets masked). Inline
/// CSS only: no external resource. Everything printed is escaped.
fn dev_page(failure: &Failure<'_>) -> String {
    let error = failure.error();
    let request = failure.request();
    let status = status_line(error.status());
    let mut page = String::with_capacity(8 * 1024);
    let class = if error.status().is_client_error() {
        " class=\"client\""
    } else {
        ""
    };
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <header{class}><div class=\"status\">{status} · {method} {path}</div>\
         <h1>{message}</h1><div class=\"name\">{name} · code {code}</div></header><main>",
        title = encode_text(&format!("{status}: {}", error.message())),
        status = encode_text(&status),
        method = encode_text(request.method().as_str()),
        path = encode_text(request.path()),
        message = encode_text(error.message()),
        name = encode_text(error.name()),
        code = encode_text(error.code()),
    );
    if !error.sources().is_empty() {
        page.push_str("<section><h2>Caused by</h2><div class=\"body\"><ol class=\"chain\">");
        for source in error.sources() {
            let _ = write!(page, "<li>{}</li>", encode_text(source));
        }
        page.push_str("</ol></div></section>");
    }
    if let Some(panic) = error.panic() {
        page.push_str("<section><h2>Panic</h2><table>");
        row(&mut page, "message", error.message());
        row(
            &mut page,
            "location",
            panic.location.as_deref().unwrap_or("unknown"),
        );
        page.push_str("</table>");
        if let Some(backtrace) = &panic.backtrace {
            let _ = write!(
                page,
                "<pre>{}</pre>",
                encode_text(&trim_backtrace(backtrace))
            );
        }
        page.push_str("</section>");
    }
    page.push_str("<section><h2>Request</h2><table>");
    row(&mut page, "method", request.method().as_str());
    row(&mut page, "url", &request.uri().to_string());
    if let Some(ip) = request.client_ip() {
        row(&mut page, "client ip", &ip.to_string());
    }
    row(
        &mut page,
        "elapsed",
        &format!("{} ms", request.elapsed().as_millis()),
    );
    page.push_str("</table></section>");
    if let Some(headers) = request.headers() {
        page.push_str("<section><h2>Request headers</h2><table>");
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            let shown = if name == COOKIE {
                mask_cookies(&value)
            } else if is_secret_header(name.as_str()) {
                "***".to_owned()
            } else {
                value.into_owned()
            };
            row(&mut page, name.as_str(), &shown);
        }
        page.push_str("</table></section>");
    }
    if let Some(config) = failure.config() {
        let pretty = serde_json::to_string_pretty(config).unwrap_or_default();
        let _ = write!(
            page,
            "<section><h2>Effective config (secrets masked)</h2><pre>{}</pre></section>",
            encode_text(&pretty)
        );
    }
    page.push_str(
        "</main><footer>yolk-onerror · this page is shown in the local and unittest \
         environments only; production answers without internals.</footer></body></html>",
    );
    page
}

fn row(page: &mut String, key: &str, value: &str) {
    let _ = write!(
        page,
        "<tr><td class=\"k\">{}</td><td class=\"v\">{}</td></tr>",
        encode_text(key),
        encode_text(value)
    );
}

/// The backtrace without the frames of the panic machinery, the runtime and the framework.
fn trim_backtrace(backtrace: &str) -> String {
    const NOISE: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "tokio::",
        "tower::",
        "tower_http::",
        "axum::",
        "axum_core::",
        "hyper::",
        "hyper_util::",
        "futures_util::",
        "futures_core::",
        "yolk_onerror::",
        "yolk_core::",
        "<",
        "__rust",
        "rust_begin_unwind",
        "_start",
        "__libc",
        "start_thread",
        "clone",
    ];
    let mut kept = String::new();
    let mut hidden = 0_usize;
    let mut keep_location = false;
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("at ") {
            if keep_location {
                kept.push_str(line);
                kept.push('\n');
            }
            continue;
        }
        let symbol = trimmed
            .split_once(": ")
            .map_or(trimmed, |(_, symbol)| symbol);
        keep_location = !NOISE.iter().any(|noise| symbol.starts_with(noise));
        if keep_location {
            kept.push_str(line);
            kept.push('\n');
        } else {
            hidden += 1;
        }
    }
    if hidden > 0 {
        let _ = write!(
            kept,
            "… {hidden} frame(s) of std, the runtime and the framework hidden"
        );
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_keep_names_only() {
        assert_eq!(mask_cookies("sid=abc; theme=dark"), "sid=***; theme=***");
        assert!(is_secret_header("authorization"));
        assert!(is_secret_header("x-auth-token"));
        assert!(!is_secret_header("accept"));
    }

    #[test]
    fn backtrace_keeps_app_frames() {
        let backtrace = "   0: std::backtrace::Backtrace::force_capture\n             at /rustc/std.rs:1:1\n   1: myapp::handlers::boom\n             at ./src/handlers.rs:10:5\n   2: tokio::runtime::task\n";
        let trimmed = trim_backtrace(backtrace);
        assert!(trimmed.contains("myapp::handlers::boom"));
        assert!(trimmed.contains("src/handlers.rs:10:5"));
        assert!(!trimmed.contains("force_capture"));
        assert!(trimmed.contains("2 frame(s)"));
    }
}
