//! Serves the developer error page, for a person (or `cargo xtask screenshot`) to look at.
//!
//! Usage: `cargo run -p yolk-onerror --example dev_page -- [--port P]`; prints
//! `listening on 127.0.0.1:PORT`, then serves until killed:
//!
//! - `/orders/42`: a handler error with a chain of causes;
//! - `/boom`: a panic, with its location and backtrace;
//! - anything else: the 404.
//!
//! The app runs in the `local` environment, so every page shows the details.

use axum::routing::get;
use tokio::net::TcpListener;
use yolk_core::App;
use yolk_onerror::{HttpError, OnError};

#[derive(Debug)]
struct QueryError(std::io::Error);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("query `SELECT * FROM orders WHERE id = $1` failed")
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

async fn order() -> yolk_onerror::Result<String> {
    let refused = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection to 127.0.0.1:5432 refused",
    );
    Err(HttpError::internal("cannot load order 42")
        .with_code("ORDER_UNAVAILABLE")
        .with_source(QueryError(refused)))
}

async fn boom() -> &'static str {
    let orders: Vec<u32> = Vec::new();
    let first = orders.first().copied();
    first.map_or_else(|| panic!("no orders in the basket: <empty>"), |_| "ok")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0_u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("`--port` needs a value")?.parse()?,
            other => return Err(format!("unknown argument `{other}` (expected --port P)").into()),
        }
    }
    let dir = std::env::temp_dir().join("yolk-onerror-dev-page");
    let app = App::builder()
        .name("shop")
        .base_dir(&dir)
        .env("local")
        .vars(std::iter::empty::<(String, String)>())
        .config("keys", "a-local-signing-key")
        .plugin(OnError::default())
        .route("/orders/42", get(order))
        .route("/boom", get(boom))
        .build()
        .await?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    app.serve(listener, std::future::pending()).await?;
    Ok(())
}
