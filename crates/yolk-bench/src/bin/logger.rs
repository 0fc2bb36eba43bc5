//! `GET /` with one log line per request to a file, against the same app with logging off.
//!
//! Usage: `logger --mode off|file [--port P] [--exit-on-stdin-eof]`. With `file`, first prints
//! how many lines per second one thread writes through the `tracing` layer to a file, then
//! `listening on 127.0.0.1:PORT`.
//!
//! - `off`: a yolk app (prod) without the logger plugin: no subscriber, no request log (the
//!   baseline);
//! - `file`: the same app with the `Logger` plugin at its defaults: its loggers are the global
//!   subscriber (console off in prod), and every request writes its `INFO` line, with the
//!   request prefix, to `logs/bench/yolk-web.log` in a temporary directory emptied at start.

use std::time::Instant;

use yolk_logger::{Logger, LoggerConfig, Loggers};

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
    let app = yolk_bench::hello_app("logger");
    // The app's base directory, emptied so runs leave nothing behind them.
    let dir = app
        .configured_base_dir()
        .expect("hello_app sets a base directory")
        .to_path_buf();
    let _ = std::fs::remove_dir_all(&dir);
    let app = match mode.as_str() {
        "off" => app,
        "file" => {
            let rate = lines_per_second(&dir.join("throughput"), 200_000);
            println!("logger: {rate:.0} lines/s from one thread through the layer to a file");
            app.plugin(Logger::default())
        }
        other => {
            eprintln!("logger: unknown --mode `{other}` (off, file)");
            std::process::exit(2);
        }
    };
    yolk_bench::serve_app_with("logger", args, app).await
}
