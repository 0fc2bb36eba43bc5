//! `GET /` → `Hello, yolk` on yolk-core's `App` with the `Security` plugin at its defaults:
//! compare with `yolk_core` (the same app without the plugin). Loaded with a `csrfToken`
//! cookie, it checks a returning client's secret; without one, every request is a new client
//! and gets a new CSRF secret and a `Set-Cookie`: the worst case.
//!
//! Usage: `yolk_security [--port P] [--exit-on-stdin-eof]`; prints
//! `listening on 127.0.0.1:PORT`.

use yolk_security::Security;

#[tokio::main]
async fn main() {
    let app = yolk_bench::hello_app("security").plugin(Security::default());
    yolk_bench::serve_app("yolk_security", app).await
}
