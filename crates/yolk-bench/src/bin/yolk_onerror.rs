//! `GET /` → `Hello, yolk` on yolk-core's `App` with the onerror plugin in `prod`: the cost of
//! the error layer on a request that does not fail (request head kept, panic guard, response
//! check), against `yolk_core` and `bare_axum`.
//!
//! Usage: `yolk_onerror [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

use axum::routing::get;
use yolk_core::App;
use yolk_onerror::OnError;

#[tokio::main]
async fn main() {
    let listener = match yolk_bench::listen().await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("yolk_onerror: {err}");
            std::process::exit(2);
        }
    };
    // The loader writes `run/` files; keep them out of the working tree.
    let base_dir = std::env::temp_dir().join("yolk-bench-onerror");
    let app = App::builder()
        .name("bench")
        .base_dir(&base_dir)
        .env("prod")
        .vars(std::iter::empty::<(String, String)>())
        .config("keys", "a-benchmark-key-of-32-characters")
        .plugin(OnError::default())
        .route("/", get(|| async { "Hello, yolk" }))
        .build()
        .await;
    let served = match app {
        Ok(app) => app.serve(listener, std::future::pending()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = served {
        eprintln!("yolk_onerror: {err}");
        std::process::exit(1);
    }
}
