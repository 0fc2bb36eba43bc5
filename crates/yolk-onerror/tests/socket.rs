//! Over real sockets on 127.0.0.1: a panic answers 500 and the same connection, and the same
//! process, go on serving; 404s and negotiation as a browser and an API client see them.

mod common;

use axum::routing::get;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use yolk_core::App;
use yolk_onerror::{HttpError, OnError};

use common::Logs;

struct Server {
    address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(env: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = App::builder()
            .base_dir(dir.path())
            .env(env)
            .vars(std::iter::empty::<(String, String)>())
            .config("keys", "a-production-key-of-32-characters")
            .plugin(OnError::default())
            .route("/boom", get(boom))
            .route("/teapot", get(teapot))
            .route("/ok", get(|| async { "ok" }))
            .build()
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            address,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

async fn boom() -> &'static str {
    panic!("over the wire")
}

async fn teapot() -> yolk_onerror::Result<()> {
    Err(HttpError::new(
        http::StatusCode::IM_A_TEAPOT,
        "short and stout",
    ))
}

/// One keep-alive HTTP/1.1 connection.
struct Connection(BufReader<TcpStream>);

impl Connection {
    async fn open(server: &Server) -> Self {
        Self(BufReader::new(
            TcpStream::connect(server.address).await.unwrap(),
        ))
    }

    /// Sends a GET; returns the status, the headers (lower-case names) and the body.
    async fn get(&mut self, path: &str, accept: &str) -> (u16, Vec<(String, String)>, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n");
        self.0
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        self.0.read_line(&mut line).await.unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map_or(0, |(_, value)| value.parse().unwrap());
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await.unwrap();
        (status, headers, String::from_utf8(body).unwrap())
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, value)| value.as_str())
}

#[tokio::test]
async fn a_panic_is_a_500_and_the_connection_and_process_carry_on() {
    let (logs, _guard) = Logs::capture();
    let server = Server::start("prod").await;
    let mut connection = Connection::open(&server).await;
    let (status, headers, body) = connection.get("/boom", "application/json").await;
    assert_eq!(status, 500);
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(
        body,
        r#"{"code":"INTERNAL_SERVER_ERROR","message":"Internal Server Error"}"#
    );
    // the same connection is still served
    let (status, _, body) = connection.get("/ok", "*/*").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    // and so is a new one
    let mut other = Connection::open(&server).await;
    let (status, _, body) = other.get("/boom", "text/html").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("<h2>500 Internal Server Error</h2>"),
        "{body}"
    );
    assert!(!body.contains("over the wire"));
    let (status, _, _) = other.get("/ok", "*/*").await;
    assert_eq!(status, 200);
    server.stop().await;

    let lines = logs.onerror_lines();
    assert_eq!(lines.len(), 2, "{:?}", logs.lines());
    assert!(
        lines[0].contains("panic: over the wire (at "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("request=-/127.0.0.1/-/"), "{}", lines[0]);
    assert!(lines[0].contains("ms GET /boom"), "{}", lines[0]);
}

#[tokio::test]
async fn statuses_and_404s_over_the_wire() {
    let server = Server::start("local").await;
    let mut connection = Connection::open(&server).await;
    let (status, _, body) = connection.get("/teapot", "application/json").await;
    assert_eq!(status, 418);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["message"], "short and stout");
    assert_eq!(body["name"], "HttpError");

    let (status, headers, body) = connection.get("/missing", "text/html").await;
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(body, "<h1>404 Not Found</h1>");
    let (status, _, body) = connection.get("/missing", "application/json").await;
    assert_eq!((status, body.as_str()), (404, r#"{"message":"Not Found"}"#));

    let (status, headers, body) = connection.get("/boom", "text/html").await;
    assert_eq!(status, 500);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert!(body.contains("over the wire") && body.contains("socket::boom"));
    server.stop().await;
}
