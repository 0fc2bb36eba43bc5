//! `GET /` → `Hello, yolk` on `yolk::run`'s process model: `--workers N` (a master, an agent
//! and N workers sharing one socket) or `--single`.
//!
//! Takes the benchmark contract's `--exit-on-stdin-eof` itself and passes every other argument
//! to the cluster's command line; the cluster's ready line, `yolk started on
//! http://127.0.0.1:PORT …`, tells the orchestrator the port.

use std::process::ExitCode;

use axum::routing::get;
use yolk_core::App;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let before = args.len();
    args.retain(|arg| arg != "--exit-on-stdin-eof");
    if args.len() != before {
        // The master exits; its workers and agent follow when their channel to it closes.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    yolk_cluster::run_from(args, || {
        App::builder()
            .name("bench")
            // The loader writes `run/` files; keep them out of the working tree.
            .base_dir(std::env::temp_dir().join("yolk-bench-cluster"))
            .env("prod")
            .vars(std::iter::empty::<(String, String)>())
            .route("/", get(|| async { "Hello, yolk" }))
    })
}
