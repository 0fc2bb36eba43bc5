//! A yolk cluster that logs one line per request, to drive the logger's rotation end to end.
//!
//! - `log-demo start --workers 2 --port 0`: `GET /log/ID` logs `logged ID` at INFO to the
//!   app log and answers `ID`; `GET /` answers the worker's pid;
//! - `log-demo rotate-logs [--base-dir DIR]`: the cluster's command, SIGUSR1 to the master,
//!   which hands it to the agent: the logs rotate now.

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
    yolk_cluster::run(|| {
        App::builder()
            .name("log-demo")
            .plugin(Logger::default())
            .route("/", get(|| async { std::process::id().to_string() }))
            .route("/log/{id}", get(log))
    })
}
