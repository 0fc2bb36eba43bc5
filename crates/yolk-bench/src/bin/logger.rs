//! `GET /` with one log line per request to a file, against the same route with logging off.
//!
//! Usage: `logger --mode off|file [--port P] [--exit-on-stdin-eof]`. With `file`, first prints
//! how many lines per second one thread writes through the `tracing` layer to a file, then
//! `listening on 127.0.0.1:PORT`.
//!
//! - `off`: plain axum, no subscriber, no request layer (the baseline);
//! - `file`: yolk-logger's loggers as the global subscriber (console off) and its
//!   `RequestLogLayer`: every request writes its `INFO` line, with the request prefix, to
//!   `yolk-web.log` in a temporary directory removed on exit.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use yolk_logger::{LoggerConfig, Loggers, RequestLogLayer};

/// Lines per second written by one thread, through the layer, flushed to the file.
fn lines_per_second(dir: &std::path::Path, lines: u32) -> f64 {
    let loggers = Loggers::builder("bench")
        .base_dir(dir)
        .console_level_var(Some("none"))
        .config(LoggerConfig::default())
        .build()
        .expect("the bench loggers open");
    let start = Instant::now();
    tracing::subscriber::with_default(loggers.subscriber(), || {
        for n in 0..lines {
            tracing::info!(order = n, "an order was placed by a customer");
        }
    });
    loggers.flush();
    f64::from(lines) / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = yolk_bench::take_mode(&mut args, "file");
    // One fixed directory, emptied at start, so runs leave nothing behind them.
    let dir = std::env::temp_dir().join("yolk-bench-logger");
    let _ = std::fs::remove_dir_all(&dir);
    let app = Router::new().route("/", get(|| async { "Hello, yolk" }));
    let app = match mode.as_str() {
        "off" => app,
        "file" => {
            let rate = lines_per_second(&dir.join("throughput"), 200_000);
            println!("logger: {rate:.0} lines/s from one thread through the layer to a file");
            let loggers = Loggers::builder("bench")
                .base_dir(&dir)
                .console_level_var(Some("none"))
                .build()
                .expect("the bench loggers open");
            if let Err(err) = loggers.init() {
                eprintln!("logger: {err}");
                std::process::exit(2);
            }
            app.layer(RequestLogLayer::new())
        }
        other => {
            eprintln!("logger: unknown --mode `{other}` (off, file)");
            std::process::exit(2);
        }
    };
    let listener = match yolk_bench::listen_with(args).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("logger: {err}");
            std::process::exit(2);
        }
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("logger: {err}");
        std::process::exit(1);
    }
}
