//! `GET /` → `Hello, yolk` on yolk-core's `App` with the onerror plugin in `prod`: the cost of
//! the error layer on a request that does not fail (request head kept, panic guard, response
//! check), against `yolk_core` and `bare_axum`.
//!
//! Usage: `yolk_onerror [--port P] [--exit-on-stdin-eof]`; prints `listening on 127.0.0.1:PORT`.

use yolk_onerror::OnError;

#[tokio::main]
async fn main() {
    let app = yolk_bench::hello_app("onerror").plugin(OnError::default());
    yolk_bench::serve_app("yolk_onerror", app).await
}
