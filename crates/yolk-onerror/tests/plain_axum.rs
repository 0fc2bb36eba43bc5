//! The layer in a plain axum `Router`, without the loader: every status and negotiation
//! branch, details on and off, panics, 404s, hooks and log lines.

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::Json;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use yolk_onerror::{Failure, HttpError, OnErrorLayer, RequestHead, ResponseKind};

use common::Logs;

async fn bad_input() -> yolk_onerror::Result<()> {
    let n: u32 = "x"
        .parse()
        .map_err(|e| HttpError::bad_request("`n` must be a number").with_source(e))?;
    let _ = n;
    Ok(())
}

async fn db_down() -> yolk_onerror::Result<()> {
    let io = std::io::Error::other("connection refused");
    Err(HttpError::internal("cannot load the user")
        .with_code("DB_DOWN")
        .with_source(io))
}

async fn busy() -> yolk_onerror::Result<()> {
    Err(
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "try again later")
            .with_header(RETRY_AFTER, HeaderValue::from_static("30")),
    )
}

async fn echo(body: Result<Json<Value>, JsonRejection>) -> yolk_onerror::Result<Json<Value>> {
    let Json(value) = body?;
    Ok(Json(value))
}

async fn own_404() -> Response {
    (StatusCode::NOT_FOUND, "no such page, says the handler").into_response()
}

async fn boom() -> &'static str {
    panic!("the <cache> is gone")
}

fn routes() -> Router {
    Router::new()
        .route("/bad", get(bad_input))
        .route("/db", get(db_down))
        .route("/busy", get(busy))
        .route("/echo", post(echo))
        .route("/own404", get(own_404))
        .route("/boom", get(boom))
        .route("/ok", get(|| async { "ok" }))
}

fn app(layer: OnErrorLayer) -> Router {
    routes().layer(layer)
}

fn prod() -> Router {
    app(OnErrorLayer::new())
}

fn dev() -> Router {
    app(OnErrorLayer::new()
        .with_details(true)
        .with_config(json!({ "name": "blog", "keys": "<masked: 20 chars>" })))
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .map_or("", |v| v.to_str().unwrap())
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get_with(app: &Router, path: &str, accept: &str) -> Reply {
    let request = Request::get(path)
        .header("accept", accept)
        .header("cookie", "sid=s3cr3t-session; theme=dark")
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

const JSON: &str = "application/json";
const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
const TEXT: &str = "text/plain";

#[tokio::test]
async fn json_4xx_shows_the_message_everywhere_and_details_in_dev() {
    let reply = get_with(&prod(), "/bad", JSON).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(
        reply.json(),
        json!({ "code": "BAD_REQUEST", "message": "`n` must be a number" })
    );

    let reply = get_with(&dev(), "/bad", JSON).await;
    let body = reply.json();
    assert_eq!(body["message"], "`n` must be a number");
    assert_eq!(body["name"], "HttpError");
    assert_eq!(body["sources"], json!(["invalid digit found in string"]));
}

#[tokio::test]
async fn json_5xx_hides_internals_in_prod() {
    let reply = get_with(&prod(), "/db", JSON).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.json(),
        json!({ "code": "DB_DOWN", "message": "Internal Server Error" })
    );
    assert!(!reply.body.contains("connection refused"));

    let reply = get_with(&dev(), "/db", JSON).await;
    let body = reply.json();
    assert_eq!(body["message"], "cannot load the user");
    assert_eq!(body["sources"], json!(["connection refused"]));
    assert_eq!(body["status"], 500);
}

#[tokio::test]
async fn json_path_and_json_request_choose_json() {
    let reply = get_with(&prod(), "/nothing.json", "*/*").await;
    assert_eq!(reply.json(), json!({ "message": "Not Found" }));

    let request = Request::post("/echo")
        .header(CONTENT_TYPE, JSON)
        .body(Body::from("{\"a\":"))
        .unwrap();
    let reply = send(&prod(), request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["code"], "INVALID_JSON");
    assert!(reply.json()["message"].as_str().unwrap().contains("EOF"));
}

#[tokio::test]
async fn rejections_keep_their_status_through_question_mark() {
    let request = Request::post("/echo").body(Body::from("{}")).unwrap();
    let reply = send(&prod(), request).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.content_type().starts_with("text/html"));
    assert!(reply.body.contains("<h2>415 Unsupported Media Type</h2>"));

    let limited = Router::new()
        .route("/echo", post(echo))
        .layer(axum::extract::DefaultBodyLimit::max(8))
        .layer(OnErrorLayer::new());
    let request = Request::post("/echo")
        .header(CONTENT_TYPE, JSON)
        .header("accept", JSON)
        .body(Body::from("{\"a\": \"0123456789\"}"))
        .unwrap();
    let reply = send(&limited, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["code"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn html_in_prod_is_a_plain_page() {
    let reply = get_with(&prod(), "/db", HTML).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.content_type().starts_with("text/html"));
    assert!(reply.body.contains("<h2>500 Internal Server Error</h2>"));
    for internal in ["cannot load", "connection refused", "HttpError", "blog"] {
        assert!(
            !reply.body.contains(internal),
            "{internal} in {}",
            reply.body
        );
    }
    let reply = get_with(&prod(), "/bad", HTML).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("<h2>400 Bad Request</h2>"));
}

#[tokio::test]
async fn html_in_dev_is_the_developer_page() {
    let reply = get_with(&dev(), "/db", HTML).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let page = &reply.body;
    assert!(page.starts_with("<!DOCTYPE html>"));
    for part in [
        "500 Internal Server Error",
        "cannot load the user",
        "connection refused",
        "DB_DOWN",
        "GET /db",
        "sid=***; theme=***",
        "\"name\": \"blog\"",
        "&lt;masked: 20 chars&gt;",
    ] {
        assert!(page.contains(part), "{part} missing from the page");
    }
    assert!(!page.contains("s3cr3t-session"), "a cookie value leaked");
    // self-contained: no external resource
    for external in ["<link", "<script", "src=", "http://", "https://", "@import"] {
        assert!(!page.contains(external), "{external} in the page");
    }
}

#[tokio::test]
async fn text_clients_get_text() {
    let reply = get_with(&prod(), "/bad", TEXT).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type(), "text/plain; charset=utf-8");
    assert_eq!(reply.body, "`n` must be a number\n");
    let reply = get_with(&prod(), "/db", TEXT).await;
    assert_eq!(reply.body, "500 Internal Server Error\n");
    let reply = get_with(&dev(), "/db", TEXT).await;
    assert_eq!(
        reply.body,
        "HttpError: cannot load the user\ncaused by: connection refused\n"
    );
}

#[tokio::test]
async fn error_headers_are_kept() {
    let reply = get_with(&prod(), "/busy", JSON).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers[RETRY_AFTER], "30");
    assert_eq!(reply.json()["message"], "Service Unavailable");
}

#[tokio::test]
async fn a_panic_is_a_500_and_the_next_request_works() {
    let (logs, _guard) = Logs::capture();
    let app = prod();
    let reply = get_with(&app, "/boom", JSON).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.json(),
        json!({ "code": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error" })
    );
    let reply = get_with(&app, "/ok", JSON).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "ok"));
    let lines = logs.onerror_lines();
    assert_eq!(lines.len(), 1, "{:?}", logs.lines());
    assert!(lines[0].contains("ERROR"), "{}", lines[0]);
    assert!(
        lines[0].contains("panic: the <cache> is gone (at "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("plain_axum.rs"), "{}", lines[0]);
}

#[tokio::test]
async fn a_panic_in_dev_shows_message_location_and_backtrace() {
    let reply = get_with(&dev(), "/boom", JSON).await;
    let body = reply.json();
    assert_eq!(body["name"], "panic");
    assert_eq!(body["message"], "the <cache> is gone");
    assert!(body["location"].as_str().unwrap().contains("plain_axum.rs"));
    assert!(
        body["backtrace"]
            .as_str()
            .unwrap()
            .contains("plain_axum::boom"),
        "{}",
        body["backtrace"]
    );

    let reply = get_with(&dev(), "/boom", HTML).await;
    assert!(reply.body.contains("the &lt;cache&gt; is gone"));
    assert!(!reply.body.contains("<cache>"), "unescaped message");
    assert!(reply.body.contains("plain_axum::boom"));
}

#[tokio::test]
async fn a_panic_while_building_the_future_is_caught_too() {
    #[derive(Clone)]
    struct PanicsOnCall;
    impl tower::Service<Request<Body>> for PanicsOnCall {
        type Response = Response;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response, Self::Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<Body>) -> Self::Future {
            panic!("in call")
        }
    }
    let service = tower::ServiceBuilder::new()
        .layer(OnErrorLayer::new())
        .service(PanicsOnCall);
    let response = service
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn not_found_variants() {
    let reply = get_with(&prod(), "/nowhere", JSON).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body, r#"{"message":"Not Found"}"#);
    let reply = get_with(&prod(), "/nowhere", HTML).await;
    assert_eq!(reply.body, "<h1>404 Not Found</h1>");
    assert!(reply.content_type().starts_with("text/html"));

    let redirecting =
        app(OnErrorLayer::new().with_not_found_page_url(HeaderValue::from_static("/404.html")));
    let reply = get_with(&redirecting, "/nowhere", HTML).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers[LOCATION], "/404.html");
    // the page itself missing: no redirect loop
    let reply = get_with(&redirecting, "/404.html", HTML).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.starts_with("<h1>404 Not Found</h1><p>"));
    // JSON clients are never redirected
    let reply = get_with(&redirecting, "/nowhere", JSON).await;
    assert_eq!(reply.body, r#"{"message":"Not Found"}"#);

    // a handler's own 404 with a body is left alone
    let reply = get_with(&prod(), "/own404", JSON).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body, "no such page, says the handler");

    let off = app(OnErrorLayer::new().with_not_found(false));
    let reply = get_with(&off, "/nowhere", JSON).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NOT_FOUND, "")
    );
}

#[tokio::test]
async fn error_page_url_redirects_html_5xx_in_prod_only() {
    let layer = OnErrorLayer::new().with_error_page_url(HeaderValue::from_static("/50x.html"));
    let reply = get_with(&app(layer.clone()), "/busy", HTML).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers[LOCATION], "/50x.html?real_status=503");
    let reply = get_with(&app(layer.clone()), "/bad", HTML).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = get_with(&app(layer.clone()), "/busy", JSON).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let reply = get_with(&app(layer.with_details(true)), "/busy", HTML).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn hooks_replace_each_kind_and_the_choice() {
    fn tagged(tag: &'static str) -> impl Fn(&Failure<'_>) -> Response + Send + Sync {
        move |failure| {
            (
                failure.error().status(),
                format!("{tag}:{}", failure.error().code()),
            )
                .into_response()
        }
    }
    let hooked = app(OnErrorLayer::new()
        .on_json(tagged("json"))
        .on_html(tagged("html"))
        .on_text(tagged("text")));
    assert_eq!(
        get_with(&hooked, "/bad", JSON).await.body,
        "json:BAD_REQUEST"
    );
    assert_eq!(
        get_with(&hooked, "/bad", HTML).await.body,
        "html:BAD_REQUEST"
    );
    assert_eq!(
        get_with(&hooked, "/bad", TEXT).await.body,
        "text:BAD_REQUEST"
    );

    let all = app(OnErrorLayer::new()
        .on_json(tagged("json"))
        .on_all(tagged("all")));
    assert_eq!(
        get_with(&all, "/db", JSON).await.body,
        "all:INTERNAL_SERVER_ERROR".replace("INTERNAL_SERVER_ERROR", "DB_DOWN")
    );
    assert_eq!(
        get_with(&all, "/boom", HTML).await.body,
        "all:INTERNAL_SERVER_ERROR"
    );

    let api_json = app(OnErrorLayer::new().accepts(|request: &RequestHead| {
        if request.path() == "/bad" {
            ResponseKind::Json
        } else {
            request.preferred_kind()
        }
    }));
    let reply = get_with(&api_json, "/bad", HTML).await;
    assert_eq!(reply.json()["code"], "BAD_REQUEST");
    let reply = get_with(&api_json, "/db", HTML).await;
    assert!(reply.body.contains("<h2>500"));
}

#[tokio::test]
async fn log_lines_5xx_error_4xx_warn_with_the_request_and_a_filter() {
    let (logs, _guard) = Logs::capture();
    let app = prod();
    get_with(&app, "/db", JSON).await;
    get_with(&app, "/bad", JSON).await;
    get_with(&app, "/nowhere", JSON).await; // an unhandled request is not an error
    let lines = logs.onerror_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains(
            " ERROR yolk::onerror: HttpError: cannot load the user; caused by: connection refused"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("status=500"), "{}", lines[0]);
    assert!(lines[0].contains("request=-/-/-/"), "{}", lines[0]);
    assert!(lines[0].contains("ms GET /db"), "{}", lines[0]);
    assert!(
        lines[1].contains(" WARN yolk::onerror: HttpError: `n` must be a number"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("status=400"), "{}", lines[1]);

    let (logs, _guard) = Logs::capture();
    let filtered = app_with_filter();
    get_with(&filtered, "/db", JSON).await;
    get_with(&filtered, "/bad", JSON).await;
    let lines = logs.onerror_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("status=500"));
}

fn app_with_filter() -> Router {
    app(OnErrorLayer::new()
        .app_error_filter(|failure: &Failure<'_>| failure.error().status() != 400))
}
