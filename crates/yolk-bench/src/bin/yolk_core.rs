//! `GET /` → `Hello, yolk` on yolk-core's `App` with no plugins: the loader's own cost
//! (cookie jar slot, panic catching, connection tracking) against `bare_axum`.
//!
//! Usage: `yolk_core [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

use axum::routing::get;
use yolk_core::App;

#[tokio::main]
async fn main() {
    let listener = match yolk_bench::listen().await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("yolk_core: {err}");
            std::process::exit(2);
        }
    };
    // The loader writes `run/` files; keep them out of the working tree.
    let base_dir = std::env::temp_dir().join("yolk-bench");
    let app = App::builder()
        .name("bench")
        .base_dir(&base_dir)
        .env("prod")
        .vars(std::iter::empty::<(String, String)>())
        .route("/", get(|| async { "Hello, yolk" }))
        .build()
        .await;
    let served = match app {
        Ok(app) => app.serve(listener, std::future::pending()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = served {
        eprintln!("yolk_core: {err}");
        std::process::exit(1);
    }
}
