//! A `Watcher` in a plain axum app, no loader: a route reports the last change, over a real
//! socket on 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use yolk_watcher::{DevelopmentSource, Event, Watcher};

type Last = Arc<Mutex<Option<PathBuf>>>;

async fn get_body(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_route_reports_what_the_watcher_saw() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let watcher = Watcher::local(Arc::new(DevelopmentSource::new(Duration::from_millis(50))));
    let last: Last = Arc::default();
    let sink = last.clone();
    let _handle = watcher
        .watch(&root, move |events: &[Event]| {
            *sink.lock().unwrap() = events.last().map(|event| event.path.clone());
        })
        .await
        .unwrap();

    let app = Router::new()
        .route(
            "/last-change",
            get(|State(last): State<Last>| async move {
                last.lock()
                    .unwrap()
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |path| path.display().to_string())
            }),
        )
        .with_state(last);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    assert_eq!(get_body(address, "/last-change").await, "none");
    let file = root.join("page.html");
    std::fs::write(&file, "<p>hi</p>").unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        body = get_body(address, "/last-change").await;
        if body != "none" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(body, file.display().to_string());
}
