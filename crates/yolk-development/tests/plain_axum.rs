//! The trace routes in a plain axum app, over a real socket on 127.0.0.1.

use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_trace_page_draws_every_process_on_one_axis() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("master_timing_100.json"),
        r#"{"booted_at_unix_ms":1700000000000,"steps":[
            {"plugin":"master","hook":"bind_socket","start_ms":0.0,"duration_ms":0.5},
            {"plugin":"master","hook":"start_agent","start_ms":1.0,"duration_ms":40.0},
            {"plugin":"master","hook":"start_workers","start_ms":41.0,"duration_ms":300.0}]}"#,
    )
    .unwrap();
    std::fs::write(
        run.join("agent_timing_101.json"),
        r#"{"booted_at_unix_ms":1700000000004,"steps":[
            {"plugin":"schedule","hook":"agent","start_ms":2.0,"duration_ms":30.0}]}"#,
    )
    .unwrap();
    std::fs::write(
        run.join("application_timing_102.json"),
        r#"{"booted_at_unix_ms":1700000000045,"steps":[
            {"plugin":"session","hook":"did_load","start_ms":1.0,"duration_ms":5.0},
            {"plugin":"db","hook":"will_ready","start_ms":6.0,"duration_ms":250.0}]}"#,
    )
    .unwrap();
    let app: Router = yolk_development::trace_routes("/__loader_trace__", &run, false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"GET /__loader_trace__ HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // One row per process, the master first, then the agent, then the workers.
    let master = response.find("master 100").unwrap();
    let agent = response.find("agent 101").unwrap();
    let worker = response.find("worker 102").unwrap();
    assert!(master < agent && agent < worker, "{response}");
    assert!(response.contains("master · start_workers"));
    let slowest = response.split("Slowest steps").nth(1).unwrap();
    let db = slowest.find("db").unwrap();
    let schedule = slowest.find("schedule").unwrap();
    assert!(db < schedule, "the slowest step is listed first");
}
