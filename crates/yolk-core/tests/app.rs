//! The loader end to end: config layers, plugin graph errors, lifecycle order and timeouts,
//! middleware order, the effective-config dump, and a graceful stop over a real socket.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::routing::get;
use http::StatusCode;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use yolk_core::{
    App, AppBuilder, AppContext, BoxError, Config, ConfigError, Error, Middleware, Plugin,
};

type Log = Arc<Mutex<Vec<String>>>;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct CacheConfig {
    ttl_secs: u64,
    region: String,
    servers: Vec<String>,
    password: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 60,
            region: "default-region".into(),
            servers: vec!["a".into()],
            password: "hunter22".into(),
        }
    }
}

/// A plugin that logs every hook it gets, with configurable name and dependencies.
#[derive(Debug)]
struct Probe {
    name: &'static str,
    dependencies: &'static [&'static str],
    log: Log,
    config: CacheConfig,
    slow_hook: Option<&'static str>,
    failing_hook: Option<&'static str>,
}

impl Probe {
    fn new(name: &'static str, log: &Log) -> Self {
        Self {
            name,
            dependencies: &[],
            log: Arc::clone(log),
            config: CacheConfig::default(),
            slow_hook: None,
            failing_hook: None,
        }
    }

    fn depends_on(mut self, dependencies: &'static [&'static str]) -> Self {
        self.dependencies = dependencies;
        self
    }

    async fn hook(&self, hook: &'static str) -> Result<(), BoxError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:{hook}", self.name));
        if self.slow_hook == Some(hook) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        if self.failing_hook == Some(hook) {
            return Err("the database is unreachable".into());
        }
        Ok(())
    }
}

#[async_trait]
impl Plugin for Probe {
    fn name(&self) -> &'static str {
        self.name
    }

    fn dependencies(&self) -> &[&'static str] {
        self.dependencies
    }

    fn configure(&mut self, config: &Config) -> Result<(), ConfigError> {
        self.config = config.section(self.name, &self.config)?;
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:configure", self.name));
        Ok(())
    }

    fn middleware(&self, _app: &AppContext) -> Vec<Middleware> {
        let name = self.name;
        vec![Middleware::new(
            name,
            from_fn(move |request: Request, next: Next| tag(name, request, next)),
        )]
    }

    async fn config_will_load(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("config_will_load").await
    }
    async fn config_did_load(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("config_did_load").await
    }
    async fn did_load(&self, app: &AppContext) -> Result<(), BoxError> {
        app.provide(self.config.clone());
        self.hook("did_load").await
    }
    async fn will_ready(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("will_ready").await
    }
    async fn did_ready(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("did_ready").await
    }
    async fn server_did_ready(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("server_did_ready").await
    }
    async fn before_close(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("before_close").await
    }
    async fn agent(&self, _: &AppContext) -> Result<(), BoxError> {
        self.hook("agent").await
    }
}

/// Appends `name` to the `x-trail` response header: the header lists middleware from the
/// innermost to the outermost.
async fn tag(name: &'static str, request: Request, next: Next) -> axum::response::Response {
    let mut response = next.run(request).await;
    let trail = match response.headers().get("x-trail") {
        Some(value) => format!("{},{name}", value.to_str().unwrap()),
        None => name.to_owned(),
    };
    response
        .headers_mut()
        .insert("x-trail", trail.parse().unwrap());
    response
}

fn app_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("config").join(name), text).unwrap();
    }
    dir
}

fn builder(dir: &Path) -> AppBuilder {
    App::builder()
        .base_dir(dir)
        .env("unittest")
        .vars(std::iter::empty::<(String, String)>())
}

async fn build_error(builder: AppBuilder) -> String {
    builder.build().await.unwrap_err().to_string()
}

async fn get_response(app: &App, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let response = app
        .router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn config_precedence_across_all_four_layers() {
    let dir = app_dir(&[
        (
            "config.default.toml",
            "keys = \"k1-0123456789abcdef\"\n[cache]\nttl_secs = 10\nregion = \"eu\"\nservers = [\"x\", \"y\"]\n",
        ),
        ("config.unittest.toml", "[cache]\nregion = \"us\"\n"),
    ]);
    let log = Log::default();
    let app = builder(dir.path())
        .name("shop")
        .vars([
            ("YOLK_CACHE__SERVERS", "[\"z\"]"),
            ("YOLK_KEYS", "from-env-0123456789"),
        ])
        .plugin(Probe::new("cache", &log))
        .build()
        .await
        .unwrap();
    let cache = app.context().get::<CacheConfig>().unwrap();
    assert_eq!(
        *cache,
        CacheConfig {
            ttl_secs: 10,                // config.default.toml over the plugin default
            region: "us".into(),         // config.unittest.toml over config.default.toml
            servers: vec!["z".into()],   // the env var over both, and arrays replace
            password: "hunter22".into(), // the plugin default
        }
    );
    assert_eq!(app.context().keys().len(), 1);

    let dump: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("run/application_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dump["env"], "unittest");
    assert_eq!(dump["config"]["cache"]["region"], "us");
    assert_eq!(dump["config"]["cache"]["password"], "<masked: 8 chars>");
    assert_eq!(dump["config"]["keys"], "<masked: 19 chars>");
    assert_eq!(
        dump["sources"]["cache.ttl_secs"],
        "config/config.default.toml"
    );
    assert_eq!(
        dump["sources"]["cache.region"],
        "config/config.unittest.toml"
    );
    assert_eq!(dump["sources"]["cache.servers"], "YOLK_CACHE__SERVERS");
    assert_eq!(dump["sources"]["cache.password"], "default");
    assert_eq!(dump["sources"]["keys"], "YOLK_KEYS");
    assert_eq!(dump["sources"]["name"], "code");
    let text = std::fs::read_to_string(dir.path().join("run/application_config.json")).unwrap();
    assert!(
        !text.contains("hunter22") && !text.contains("from-env-0123456789"),
        "{text}"
    );
}

#[tokio::test]
async fn yolk_env_chooses_the_environment() {
    let dir = app_dir(&[("config.staging.toml", "name = \"staged\"\n")]);
    let app = App::builder()
        .base_dir(dir.path())
        .vars(std::iter::empty::<(String, String)>())
        .env("staging")
        .build()
        .await
        .unwrap();
    assert_eq!(app.context().env(), "staging");
    assert_eq!(app.context().name(), "staged");
}

#[tokio::test]
async fn bad_config_stops_start_up_naming_file_key_and_type() {
    let log = Log::default();
    let dir = app_dir(&[("config.unittest.toml", "[cache]\nttl_secs = \"ten\"\n")]);
    let message = build_error(builder(dir.path()).plugin(Probe::new("cache", &log))).await;
    assert_eq!(
        message,
        "config/config.unittest.toml: key `cache.ttl_secs`: expected u64, found string \"ten\""
    );

    let dir = app_dir(&[("config.default.toml", "[cach]\nttl_secs = 1\n")]);
    let message = build_error(builder(dir.path()).plugin(Probe::new("cache", &log))).await;
    assert!(
        message.starts_with("config/config.default.toml: unknown section `cach`"),
        "{message}"
    );
    assert!(message.contains("cache"), "{message}");

    let dir = app_dir(&[]);
    let message = build_error(builder(dir.path()).vars([("YOLK_PROXY", "maybe")])).await;
    assert_eq!(
        message,
        "YOLK_PROXY: key `proxy`: expected a boolean, found string \"maybe\""
    );
}

#[tokio::test]
async fn plugin_graph_errors_name_the_plugins() {
    let log = Log::default();
    let dir = app_dir(&[]);
    let missing = build_error(
        builder(dir.path()).plugin(Probe::new("security", &log).depends_on(&["session"])),
    )
    .await;
    assert!(
        missing.starts_with("plugin `session` is required by `security` but is not registered"),
        "{missing}"
    );

    let cycle = build_error(
        builder(dir.path())
            .plugin(Probe::new("a", &log).depends_on(&["b"]))
            .plugin(Probe::new("b", &log).depends_on(&["a"])),
    )
    .await;
    assert_eq!(cycle, "plugin dependency cycle: a -> b -> a");

    let duplicate = build_error(
        builder(dir.path())
            .plugin(Probe::new("a", &log))
            .plugin(Probe::new("a", &log)),
    )
    .await;
    assert!(
        duplicate.starts_with("two plugins are named `a`"),
        "{duplicate}"
    );

    let dir = app_dir(&[("plugin.toml", "[session]\nenable = false\n")]);
    let disabled = build_error(
        builder(dir.path())
            .plugin(Probe::new("security", &log).depends_on(&["session"]))
            .plugin(Probe::new("session", &log)),
    )
    .await;
    assert!(
        disabled.starts_with(
            "plugin `session` is disabled (config/plugin.toml) but is required by `security`"
        ),
        "{disabled}"
    );

    let dir = app_dir(&[("plugin.unittest.toml", "[sesion]\nenable = true\n")]);
    let unknown = build_error(builder(dir.path()).plugin(Probe::new("session", &log))).await;
    assert!(
        unknown.starts_with("config/plugin.unittest.toml: plugin `sesion` is not registered"),
        "{unknown}"
    );
}

#[tokio::test]
async fn plugin_toml_disables_and_code_registers_disabled() {
    let log = Log::default();
    let dir = app_dir(&[("plugin.toml", "[b]\nenable = false\n[c]\nenable = true\n")]);
    let app = builder(dir.path())
        .plugin(Probe::new("a", &log))
        .plugin(Probe::new("b", &log))
        .plugin_disabled(Probe::new("c", &log))
        .plugin_disabled(Probe::new("d", &log))
        .build()
        .await
        .unwrap();
    assert_eq!(app.plugin_names(), ["a", "c"]);
}

#[tokio::test]
async fn hooks_run_in_plugin_order_and_close_in_reverse() {
    let log = Log::default();
    let dir = app_dir(&[]);
    let app = builder(dir.path())
        .plugin(Probe::new("security", &log).depends_on(&["session"]))
        .plugin(Probe::new("session", &log))
        .build()
        .await
        .unwrap();
    assert_eq!(app.plugin_names(), ["session", "security"]);
    app.start_agent().await;
    app.server_did_ready().await.unwrap();
    app.close().await;
    let expected: Vec<String> = [
        "session:config_will_load",
        "security:config_will_load",
        "session:configure",
        "security:configure",
        "session:config_did_load",
        "security:config_did_load",
        "session:did_load",
        "security:did_load",
        "session:will_ready",
        "security:will_ready",
        "session:did_ready",
        "security:did_ready",
        "session:agent",
        "security:agent",
        "session:server_did_ready",
        "security:server_did_ready",
        "security:before_close",
        "session:before_close",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(*log.lock().unwrap(), expected);

    let before = std::time::SystemTime::now();
    let timeline: yolk_core::plugin::Timeline = serde_json::from_slice(
        &std::fs::read(dir.path().join(format!(
            "run/application_timing_{}.json",
            std::process::id()
        )))
        .unwrap(),
    )
    .unwrap();
    // The boot began on the wall clock shared by every process, a moment ago.
    let age = before.duration_since(timeline.booted_at()).unwrap();
    assert!(age < std::time::Duration::from_secs(60), "{age:?}");
    let timings = timeline.steps;
    assert!(
        timings
            .iter()
            .any(|t| t.plugin == "security" && t.hook == "will_ready"),
        "{timings:?}"
    );
    assert!(timings.iter().all(|t| t.duration_ms >= 0.0));
}

#[tokio::test]
async fn a_hung_hook_fails_start_up_naming_plugin_and_hook() {
    let log = Log::default();
    let dir = app_dir(&[("config.default.toml", "hook_timeout_ms = 100\n")]);
    let mut slow = Probe::new("redis", &log);
    slow.slow_hook = Some("will_ready");
    let started = std::time::Instant::now();
    let error = builder(dir.path()).plugin(slow).build().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(matches!(error, Error::HookTimeout { ref plugin, .. } if plugin == "redis"));
    assert_eq!(
        error.to_string(),
        "plugin `redis` did not finish `will_ready` within 100ms; raise `hook_timeout_ms` if it needs longer"
    );
}

#[tokio::test]
async fn a_failing_hook_fails_start_up_with_its_error() {
    let log = Log::default();
    let dir = app_dir(&[]);
    let mut failing = Probe::new("db", &log);
    failing.failing_hook = Some("did_load");
    let message = build_error(builder(dir.path()).plugin(failing)).await;
    assert_eq!(
        message,
        "plugin `db` failed in `did_load`: the database is unreachable"
    );
}

#[tokio::test]
async fn short_keys_are_refused_in_prod_only() {
    let dir = app_dir(&[("config.default.toml", "keys = \"short\"\n")]);
    let message = build_error(builder(dir.path()).env("prod")).await;
    assert!(message.starts_with("invalid `keys`"), "{message}");
    assert!(message.contains("16"), "{message}");
    builder(dir.path()).env("local").build().await.unwrap();
}

#[tokio::test]
async fn middleware_order_plugins_then_app_in_config_order() {
    let log = Log::default();
    let dir = app_dir(&[(
        "config.default.toml",
        "middleware = [\"second\", \"first\"]\n[middleware_options.first]\nignore = [\"/skip\"]\n[middleware_options.off]\nenable = false\n",
    )]);
    let app_middleware = |name: &'static str| {
        Middleware::new(
            name,
            from_fn(move |request: Request, next: Next| tag(name, request, next)),
        )
    };
    let app = builder(dir.path())
        .plugin(Probe::new("session", &log))
        .plugin(Probe::new("security", &log))
        .middleware(app_middleware("first"))
        .middleware(app_middleware("off"))
        .middleware(app_middleware("second"))
        .route("/", get(|| async { "ok" }))
        .route("/skip", get(|| async { "ok" }))
        .build()
        .await
        .unwrap();
    // The trail lists the innermost first: the request went session -> security -> second -> first.
    let (status, headers, _) = get_response(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-trail"], "first,second,security,session");
    let (_, headers, _) = get_response(&app, "/skip").await;
    assert_eq!(headers["x-trail"], "second,security,session");
    // Middleware runs on 404s too.
    let (status, headers, _) = get_response(&app, "/missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-trail"], "first,second,security,session");
}

#[tokio::test]
async fn middleware_run_before_routing_and_may_rewrite_the_path() {
    let dir = app_dir(&[]);
    let app = builder(dir.path())
        .middleware(Middleware::new(
            "legacy_paths",
            axum::middleware::map_request(|mut request: Request| async move {
                if let Some(rest) = request.uri().path().strip_prefix("/v1") {
                    *request.uri_mut() = rest.parse().expect("a path");
                }
                request
            }),
        ))
        .route("/users", get(|| async { "users" }))
        .build()
        .await
        .unwrap();
    let (status, _, body) = get_response(&app, "/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "users");
}

/// The start-up error of an app with one plugin `a` and this `config.default.toml`.
async fn error_with_config(toml_text: &str) -> String {
    let log = Log::default();
    let dir = app_dir(&[("config.default.toml", toml_text)]);
    build_error(builder(dir.path()).plugin(Probe::new("a", &log))).await
}

#[tokio::test]
async fn middleware_config_errors() {
    assert_eq!(
        error_with_config("middleware = [\"nope\"]\n").await,
        "unknown middleware `nope` in `middleware`; registered middleware: none"
    );
    assert_eq!(
        error_with_config("[middleware_options.nope]\nenable = false\n").await,
        "unknown middleware `nope` in `middleware_options`; registered middleware: a"
    );
    let message =
        error_with_config("[middleware_options.a]\nmatch = [\"/x\"]\nignore = [\"/y\"]\n").await;
    assert!(
        message.contains("`match` and `ignore` are both set"),
        "{message}"
    );
}

async fn explode() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_app_lives_on() {
    let dir = app_dir(&[]);
    let app = builder(dir.path())
        .route("/panic", get(explode))
        .route("/", get(|| async { "alive" }))
        .build()
        .await
        .unwrap();
    let (status, _, _) = get_response(&app, "/panic").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _, body) = get_response(&app, "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alive"));
}

/// Sends one HTTP/1.1 request over a real socket and returns the raw response.
/// Serves `app` on a free port of 127.0.0.1 until the returned sender fires: the address, the
/// sender, and the server's task.
async fn serve_until_stopped(
    app: App,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), Error>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

async fn raw_get(address: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn graceful_stop_lets_a_slow_request_finish_then_closes() {
    let log = Log::default();
    let dir = app_dir(&[]);
    let app = builder(dir.path())
        .plugin(Probe::new("db", &log))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                "done"
            }),
        )
        .route(
            "/ip",
            get(|yolk_core::request::ClientIp(ip)| async move { ip.to_string() }),
        )
        .build()
        .await
        .unwrap();
    let (address, stop, server) = serve_until_stopped(app).await;

    assert!(
        raw_get(address, "/ip")
            .await
            .unwrap()
            .ends_with("127.0.0.1")
    );
    let slow = tokio::spawn(raw_get(address, "/slow"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    // New connections are refused once stopped.
    assert!(raw_get(address, "/ip").await.is_err());
    assert_eq!(
        log.lock().unwrap().last().map(String::as_str),
        Some("db:before_close")
    );
}

#[tokio::test]
async fn drain_timeout_bounds_the_stop() {
    let dir = app_dir(&[("config.default.toml", "drain_timeout_ms = 300\n")]);
    let app = builder(dir.path())
        .route(
            "/forever",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .build()
        .await
        .unwrap();
    let (address, stop, server) = serve_until_stopped(app).await;
    let _hanging = tokio::spawn(raw_get(address, "/forever"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the drain timeout ends the stop")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_keep_alive_connection_is_told_to_close_once_stopping() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = app_dir(&[]);
    let app = builder(dir.path())
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        )
        .build()
        .await
        .unwrap();
    let (address, stop, server) = serve_until_stopped(app).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // A keep-alive request, in flight when the stop begins.
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the server closes the connection after the response")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("connection: close\r\n"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
