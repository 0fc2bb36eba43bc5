//! The loggers and the request layer in a plain axum app, without the loader.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tower::ServiceExt;
use yolk_logger::{Level, LogContext, LoggerConfig, LoggerEntry, Loggers, RequestLogLayer};

fn loggers(dir: &std::path::Path, config: LoggerConfig) -> Loggers {
    Loggers::builder("shop")
        .base_dir(dir)
        .env("local")
        .console_level_var(Some("none"))
        .config(config)
        .build()
        .unwrap()
}

fn read(loggers: &Loggers, name: &str) -> String {
    std::fs::read_to_string(loggers.dir().join(name)).unwrap_or_default()
}

fn request(path: &str) -> http::Request<Body> {
    let mut request = http::Request::get(path)
        .header("x-request-id", "trace-7")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 5000))));
    request
}

#[derive(Debug, thiserror::Error)]
#[error("cannot charge the card")]
struct Outer(#[source] Inner);

#[derive(Debug, thiserror::Error)]
#[error("the bank timed out")]
struct Inner;

#[test]
fn each_file_receives_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LoggerConfig::default();
    config.custom.insert(
        "payments".to_owned(),
        LoggerEntry {
            file: Some("pay.log".to_owned()),
            level: Some(Level::Debug),
            ..LoggerEntry::default()
        },
    );
    let loggers = loggers(dir.path(), config);
    tracing::subscriber::with_default(loggers.subscriber(), || {
        tracing::info!("app event");
        tracing::debug!("app debug, below INFO");
        tracing::warn!(target: "yolk_core::app", "core event");
        tracing::debug!(target: "payments", "payment debug");
        tracing::info!(target: "payments::card", "payment info");
        let error = Outer(Inner);
        tracing::error!(error = &error as &dyn std::error::Error, "charge failed");
        tracing::error!(target: "payments", "payment error");
    });
    loggers.flush();
    let app = read(&loggers, "shop-web.log");
    let core = read(&loggers, "yolk-web.log");
    let pay = read(&loggers, "pay.log");
    let errors = read(&loggers, "common-error.log");
    assert!(
        app.contains("app event") && !app.contains("app debug"),
        "{app}"
    );
    assert!(
        !app.contains("core event") && !app.contains("payment"),
        "{app}"
    );
    assert!(
        core.contains(" WARN ") && core.contains("core event"),
        "{core}"
    );
    assert_eq!(pay.lines().count(), 3, "{pay}");
    assert!(
        pay.contains("payment debug") && pay.contains("payment info"),
        "{pay}"
    );
    // Every ERROR once more in common-error.log, with its source chain.
    assert_eq!(errors.lines().count(), 2, "{errors}");
    assert!(
        errors.contains("charge failed error=cannot charge the card: the bank timed out"),
        "{errors}"
    );
    assert!(errors.contains("payment error"), "{errors}");
    assert!(app.contains("charge failed"), "{app}");
    // No agent file in an app process.
    assert!(!loggers.dir().join("yolk-agent.log").exists());
}

#[test]
fn agent_process_writes_the_agent_log() {
    let dir = tempfile::tempdir().unwrap();
    let loggers = Loggers::builder("shop")
        .base_dir(dir.path())
        .agent(true)
        .console_level_var(Some("none"))
        .build()
        .unwrap();
    tracing::subscriber::with_default(loggers.subscriber(), || {
        tracing::info!("agent app event");
        tracing::info!(target: "yolk_cluster", "agent core event");
    });
    loggers.flush();
    let agent = read(&loggers, "yolk-agent.log");
    assert!(agent.contains("agent app event") && agent.contains("agent core event"));
    assert!(!loggers.dir().join("shop-web.log").exists());
}

fn check_line_shape(line: &str) {
    let bytes = line.as_bytes();
    assert!(bytes.len() > 24, "{line}");
    for (i, b) in bytes[..23].iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*b, b'-', "{line}"),
            10 => assert_eq!(*b, b' ', "{line}"),
            13 | 16 => assert_eq!(*b, b':', "{line}"),
            19 => assert_eq!(*b, b',', "{line}"),
            _ => assert!(b.is_ascii_digit(), "{line}"),
        }
    }
}

#[tokio::test]
async fn the_request_prefix_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let loggers = loggers(dir.path(), LoggerConfig::default());
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    async fn handler(log: LogContext) -> &'static str {
        tracing::info!("before login");
        log.set_user_id("ada");
        tracing::info!(items = 3, "after login");
        "ok"
    }
    let app = Router::new()
        .route("/cart", get(handler))
        .layer(RequestLogLayer::new());
    let response = app.oneshot(request("/cart?page=2")).await.unwrap();
    assert_eq!(response.status(), 200);
    tracing::info!("outside a request");
    loggers.flush();
    let app = read(&loggers, "shop-web.log");
    let lines: Vec<&str> = app.lines().collect();
    assert_eq!(lines.len(), 3, "{app}");
    let pid = std::process::id();
    for line in &lines {
        check_line_shape(line);
    }
    let rest = |line: &str| line[24..].to_owned();
    assert!(rest(lines[0]).starts_with(&format!("INFO {pid} [-/10.1.2.3/trace-7/")));
    assert!(
        rest(lines[0]).ends_with("ms GET /cart?page=2] before login"),
        "{app}"
    );
    assert!(rest(lines[1]).starts_with(&format!("INFO {pid} [ada/10.1.2.3/trace-7/")));
    assert!(rest(lines[1]).ends_with("] after login items=3"), "{app}");
    assert_eq!(rest(lines[2]), format!("INFO {pid} outside a request"));
    let core = read(&loggers, "yolk-web.log");
    let lines: Vec<&str> = core.lines().collect();
    assert_eq!(lines.len(), 1, "{core}");
    check_line_shape(lines[0]);
    // `INFO 4242 [ada/10.1.2.3/trace-7/0ms GET /cart?page=2] 200 0ms`, whatever the two times.
    let line = rest(lines[0]);
    let head = format!("INFO {pid} [ada/10.1.2.3/trace-7/");
    let (elapsed, after) = line
        .strip_prefix(&head)
        .and_then(|after| after.split_once("ms GET /cart?page=2] 200 "))
        .unwrap_or_else(|| panic!("{line}"));
    let took = after.strip_suffix("ms").unwrap_or_else(|| panic!("{line}"));
    for number in [elapsed, took] {
        assert!(
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
            "{line}"
        );
    }
}

#[tokio::test]
async fn log_context_without_the_layer_is_a_clear_500() {
    let app = Router::new().route("/", get(|_log: LogContext| async { "never" }));
    let response = app.oneshot(request("/")).await.unwrap();
    assert_eq!(response.status(), 500);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("needs `RequestLogLayer`"));
}

#[tokio::test]
async fn json_lines_parse() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoggerConfig {
        output_json: true,
        ..LoggerConfig::default()
    };
    let loggers = loggers(dir.path(), config);
    let _guard = tracing::subscriber::set_default(loggers.subscriber());
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                let error = Outer(Inner);
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    code = 7,
                    ok = false,
                    "quote \" and\nnewline"
                );
                "x"
            }),
        )
        .layer(RequestLogLayer::new());
    app.oneshot(request("/")).await.unwrap();
    loggers.flush();
    let text = read(&loggers, "shop-web.log");
    assert!(text.contains("quote"), "text files stay beside: {text}");
    for name in [
        "shop-web.json.log",
        "common-error.json.log",
        "yolk-web.json.log",
    ] {
        let json = read(&loggers, name);
        assert!(!json.is_empty(), "{name} is empty");
        for line in json.lines() {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            assert_eq!(value["ip"], "10.1.2.3");
            assert_eq!(value["method"], "GET");
            assert_eq!(value["url"], "/");
        }
    }
    let json = read(&loggers, "shop-web.json.log");
    let value: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(value["level"], "ERROR");
    assert_eq!(value["message"], "quote \" and\nnewline");
    assert_eq!(value["code"], 7);
    assert_eq!(value["ok"], false);
    assert_eq!(value["trace_id"], "trace-7");
    assert_eq!(value["error"]["message"], "cannot charge the card");
    assert_eq!(value["error"]["chain"][0], "the bank timed out");
    assert_eq!(value["pid"], std::process::id());
}

#[test]
fn json_only_writes_no_text_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoggerConfig {
        output_json: true,
        json_only: true,
        ..LoggerConfig::default()
    };
    let loggers = loggers(dir.path(), config);
    tracing::subscriber::with_default(loggers.subscriber(), || tracing::info!("hello"));
    loggers.flush();
    assert!(!loggers.dir().join("shop-web.log").exists());
    assert!(read(&loggers, "shop-web.json.log").contains("\"hello\""));
    let error = Loggers::builder("shop")
        .base_dir(dir.path())
        .config(LoggerConfig {
            json_only: true,
            ..LoggerConfig::default()
        })
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("needs `output_json = true`"),
        "{error}"
    );
}

#[test]
fn levels_hold() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoggerConfig {
        level: Level::Warn,
        core: LoggerEntry {
            level: Some(Level::None),
            ..LoggerEntry::default()
        },
        ..LoggerConfig::default()
    };
    let loggers = loggers(dir.path(), config);
    tracing::subscriber::with_default(loggers.subscriber(), || {
        tracing::info!("info dropped");
        tracing::warn!("warn kept");
        tracing::error!(target: "hyper", "core error");
    });
    loggers.flush();
    let app = read(&loggers, "shop-web.log");
    assert!(
        !app.contains("info dropped") && app.contains("warn kept"),
        "{app}"
    );
    assert_eq!(read(&loggers, "yolk-web.log"), "", "core is NONE");
    // ERROR still reaches common-error.log whatever the logger's level.
    assert!(read(&loggers, "common-error.log").contains("core error"));
}

#[test]
fn console_levels_follow_env_and_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let build = |env: &str, var: Option<&str>| {
        Loggers::builder("shop")
            .base_dir(dir.path())
            .env(env)
            .console_level_var(var)
            .build()
            .unwrap()
    };
    assert_eq!(build("local", None).console_level(), Level::Info);
    assert_eq!(build("unittest", None).console_level(), Level::Warn);
    assert_eq!(build("prod", None).console_level(), Level::Info);
    assert_eq!(build("prod", Some("debug")).console_level(), Level::Debug);
    assert!(!build("local", Some("NONE")).console_enabled());
}

#[test]
fn stdout_only_opens_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoggerConfig {
        stdout_only: true,
        ..LoggerConfig::default()
    };
    let loggers = loggers(dir.path(), config);
    tracing::subscriber::with_default(loggers.subscriber(), || tracing::info!("to stdout"));
    loggers.flush();
    assert!(loggers.files().is_empty());
    assert!(!loggers.dir().exists());
}

#[test]
fn threads_never_tear_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoggerConfig {
        buffer_bytes: 512,
        ..LoggerConfig::default()
    };
    let loggers = loggers(dir.path(), config);
    let dispatch = tracing::Dispatch::new(loggers.subscriber());
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let dispatch = dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..2000 {
                        tracing::info!("thread {thread} line {n} {}", "x".repeat(n % 50));
                    }
                });
            });
        }
    });
    loggers.flush();
    let app = read(&loggers, "shop-web.log");
    let lines: Vec<&str> = app.lines().collect();
    assert_eq!(lines.len(), 8000);
    for line in lines {
        check_line_shape(line);
        assert!(line.contains(" INFO ") && line.contains(" line "), "{line}");
    }
}

/// Keeps the message of every request line it sees.
#[derive(Clone, Default)]
struct RequestLines(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::field::Visit for RequestLines {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.lock().unwrap().push(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.lock().unwrap().push(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RequestLines {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == yolk_logger::REQUEST_TARGET
            && *event.metadata().level() == tracing::Level::INFO
        {
            event.record(&mut self.clone());
        }
    }
}

#[tokio::test]
async fn other_layers_see_the_request_line_as_an_event() {
    use tracing_subscriber::layer::SubscriberExt;

    let dir = tempfile::tempdir().unwrap();
    let loggers = loggers(dir.path(), LoggerConfig::default());
    let seen = RequestLines::default();
    let subscriber = tracing_subscriber::registry()
        .with(loggers.layer())
        .with(seen.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route("/", get(|| async { "hi" }))
        .layer(RequestLogLayer::new());
    assert_eq!(app.oneshot(request("/")).await.unwrap().status(), 200);
    loggers.flush();
    let messages = seen.0.lock().unwrap().clone();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let core = read(&loggers, "yolk-web.log");
    assert!(
        core.ends_with(&format!("] {}\n", messages[0])),
        "{core} {messages:?}"
    );
    assert!(messages[0].starts_with("200 ") && messages[0].ends_with("ms"));
}
