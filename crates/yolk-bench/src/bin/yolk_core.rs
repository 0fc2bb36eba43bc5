//! `GET /` → `Hello, yolk` on yolk-core's `App` with no plugins: the loader's own cost (the
//! task-local cookie jar scope, panic catching, `ConnectInfo`, connection tracking) against
//! `bare_axum`.
//!
//! Usage: `yolk_core [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

#[tokio::main]
async fn main() {
    yolk_bench::serve_app("yolk_core", yolk_bench::hello_app("core")).await
}
