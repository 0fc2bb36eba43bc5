//! `GET /` with a small encrypted cookie session, against the same route without sessions.
//!
//! Usage: `session --mode none|untouched|read|write [--port P] [--exit-on-stdin-eof]`; prints
//! the cost of one seal + open of the session cookie, then `listening on 127.0.0.1:PORT`.
//!
//! Every mode sends the same request: a middleware adds a valid session cookie when the client
//! sent none, so `read` decrypts a real cookie on every request.
//!
//! - `none`: plain axum, no session layer (the baseline);
//! - `untouched`: the session layer, a handler that does not extract `Session`;
//! - `read`: the handler reads one value (decrypts the cookie, no `Set-Cookie`);
//! - `write`: the handler writes a counter (decrypt, then seal and `Set-Cookie` every time).

use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::map_request;
use axum::routing::get;
use yolk_core::Keys;
use yolk_session::{Record, Session, SessionLayer, codec};

const NAME: &str = "YOLK_SESS";

fn small_session() -> Record {
    let mut data = serde_json::Map::new();
    data.insert("user".into(), "ada".into());
    data.insert("n".into(), 1.into());
    Record::new(data, u64::MAX / 2, Some(86_400_000))
}

/// Nanoseconds per seal, per open, over `rounds` of each.
fn codec_cost(keys: &Keys, rounds: u32) -> (f64, f64) {
    let record = small_session();
    let start = Instant::now();
    let mut sealed = String::new();
    for _ in 0..rounds {
        sealed = codec::seal(keys, NAME, &record).expect("a small session seals");
    }
    let seal = start.elapsed().as_nanos() as f64 / f64::from(rounds);
    let start = Instant::now();
    for _ in 0..rounds {
        let opened = codec::open(keys, NAME, std::hint::black_box(&sealed));
        assert!(opened.is_some());
    }
    let open = start.elapsed().as_nanos() as f64 / f64::from(rounds);
    (seal, open)
}

async fn read(session: Session) -> String {
    session
        .get::<String>("user")
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn write(session: Session) -> &'static str {
    let n: u64 = session.get("n").ok().flatten().unwrap_or(0);
    let _ = session.insert("n", n + 1);
    "Hello, yolk"
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = yolk_bench::take_mode(&mut args, "read");
    let keys = Keys::parse("a-benchmark-key-of-32-characters").expect("valid keys");
    if mode == "read" {
        let (seal, open) = codec_cost(&keys, 50_000);
        println!(
            "session cookie codec (small session): seal {seal:.0} ns/op, open {open:.0} ns/op, \
             seal+open {:.0} ns/op",
            seal + open
        );
    }
    let sealed = codec::seal(&keys, NAME, &small_session()).expect("a small session seals");
    let cookie = HeaderValue::try_from(format!("{NAME}={sealed}")).expect("a valid header");
    let add_cookie = map_request(move |mut req: Request| {
        let cookie = cookie.clone();
        async move {
            req.headers_mut().entry(header::COOKIE).or_insert(cookie);
            req
        }
    });
    let layer = SessionLayer::new(keys);
    let app = match mode.as_str() {
        "none" => Router::new().route("/", get(|| async { "Hello, yolk" })),
        "untouched" => Router::new()
            .route("/", get(|| async { "Hello, yolk" }))
            .layer(layer),
        "read" => Router::new().route("/", get(read)).layer(layer),
        "write" => Router::new().route("/", get(write)).layer(layer),
        other => {
            eprintln!("session: unknown --mode `{other}` (none, untouched, read, write)");
            std::process::exit(2);
        }
    }
    .layer(add_cookie);

    let listener = match yolk_bench::listen_with(args).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("session: {err}");
            std::process::exit(2);
        }
    };
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("session: {err}");
        std::process::exit(1);
    }
}
