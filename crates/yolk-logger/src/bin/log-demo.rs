//! A yolk cluster that logs one line per request, to drive the logger's rotation end to end.
//!
//! - `log-demo start --workers 2 --port 0`: `GET /log/ID` logs `logged ID` at INFO to the
//!   app log and answers `ID`; `GET /` answers the worker's pid;
//! - `log-demo rotate-logs [--base-dir DIR]`: asks the running app to rotate its logs now.

use std::process::ExitCode;

use axum::extract::Path;
use axum::routing::get;
use yolk_core::App;
use yolk_logger::Logger;

async fn log(Path(id): Path<String>) -> String {
    tracing::info!("logged {id}");
    id
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("rotate-logs") {
        let base_dir = match args.iter().position(|a| a == "--base-dir") {
            Some(i) => args.get(i + 1).cloned().unwrap_or_else(|| ".".to_owned()),
            None => ".".to_owned(),
        };
        return match yolk_logger::rotate_logs(&base_dir) {
            Ok(pid) => {
                println!("asked process {pid} to rotate the logs");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    yolk_cluster::run(|| {
        App::builder()
            .name("log-demo")
            .plugin(Logger::default())
            .route("/", get(|| async { std::process::id().to_string() }))
            .route("/log/{id}", get(log))
    })
}
