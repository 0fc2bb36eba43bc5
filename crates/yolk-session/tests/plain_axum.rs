//! The layer in a plain axum router, without the loader: every Set-Cookie rule against the
//! cookie store and the memory store, renew and rolling timing, tampering, size, rotation,
//! concurrency, and errors.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;
use yolk_core::Keys;
use yolk_session::{MaxAge, MemoryStore, Session, SessionLayer};

use common::Client;

fn keys() -> Keys {
    Keys::parse("a-long-random-secret-for-tests").unwrap()
}

#[tokio::test]
async fn cookie_store_set_cookie_rules() {
    common::set_cookie_rules(SessionLayer::new(keys())).await;
}

#[tokio::test]
async fn memory_store_set_cookie_rules() {
    common::set_cookie_rules(SessionLayer::with_store(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_regenerate_drops_the_old_id() {
    common::regenerate_drops_old_id(SessionLayer::with_store(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_holds_only_an_id_and_expires() {
    let store = MemoryStore::new();
    let layer = SessionLayer::with_store(store.clone())
        .with_max_age(MaxAge::Duration(Duration::from_millis(1000)));
    let mut c = Client::new(layer);
    c.get("/set?v=ada").await;
    assert_eq!(c.cookie.as_ref().unwrap().len(), "YOLK_SESS=".len() + 43);
    assert_eq!(store.len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(c.get("/get").await.body, "none");
    // A browser-session cookie still gets a finite store TTL.
    let mut c = Client::new(SessionLayer::with_store(store.clone()).with_max_age(MaxAge::Session));
    let set = c.get("/set?v=ada").await.set_cookie.unwrap();
    assert!(!set.contains("Max-Age"), "{set}");
    assert_eq!(c.get("/get").await.body, "ada");
}

#[tokio::test]
async fn cookie_store_expiry_is_checked_server_side() {
    let layer =
        SessionLayer::new(keys()).with_max_age(MaxAge::Duration(Duration::from_millis(1000)));
    let mut c = Client::new(layer);
    c.get("/set?v=ada").await;
    assert_eq!(c.get("/get").await.body, "ada");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The browser would have dropped it; a client that replays it gets a fresh session.
    let reply = c.get("/get").await;
    assert_eq!((reply.body.as_str(), reply.set_cookie), ("none", None));
}

#[tokio::test]
async fn renew_saves_only_past_half_the_max_age() {
    for store in [false, true] {
        let layer = if store {
            SessionLayer::with_store(MemoryStore::new())
        } else {
            SessionLayer::new(keys())
        };
        let layer = layer
            .with_max_age(MaxAge::Duration(Duration::from_millis(2000)))
            .with_renew(true);
        let mut c = Client::new(layer);
        c.get("/set?v=ada").await;
        // Plenty of time left: no Set-Cookie, touched or not.
        assert_eq!(c.get("/get").await.set_cookie, None);
        assert_eq!(c.get("/untouched").await.set_cookie, None);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        // Less than half left: renewed, even by a route that does not touch it.
        assert!(
            c.get("/untouched").await.set_cookie.is_some(),
            "store {store}"
        );
        assert_eq!(c.get("/get").await.set_cookie, None, "renewed just now");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        // 2.4 s after the first save, alive thanks to the renewal.
        assert_eq!(c.get("/get").await.body, "ada");
    }
}

#[tokio::test]
async fn rolling_saves_every_request_that_carries_the_session() {
    for store in [false, true] {
        let layer = if store {
            SessionLayer::with_store(MemoryStore::new())
        } else {
            SessionLayer::new(keys())
        };
        let mut c = Client::new(layer.with_rolling(true));
        // Nothing to roll yet.
        assert_eq!(c.get("/untouched").await.set_cookie, None);
        assert_eq!(c.get("/get").await.set_cookie, None);
        c.get("/set?v=ada").await;
        for path in ["/get", "/untouched", "/get"] {
            let reply = c.get(path).await;
            assert!(reply.set_cookie.is_some(), "{path}, store {store}");
            assert!(!reply.expires_cookie());
        }
        assert_eq!(c.get("/get").await.body, "ada");
    }
}

#[tokio::test]
async fn key_rotation_reads_old_cookies_and_reseals_them() {
    let mut old = Client::new(SessionLayer::new(
        Keys::parse("old-key-0123456789").unwrap(),
    ));
    old.get("/set?v=ada").await;
    let sealed_with_old = old.cookie.clone();

    let mut rotated = Client::new(SessionLayer::new(
        Keys::parse("new-key-0123456789,old-key-0123456789").unwrap(),
    ));
    rotated.cookie = sealed_with_old;
    let reply = rotated.get("/get").await;
    assert_eq!(reply.body, "ada");
    assert!(reply.set_cookie.is_some(), "re-sealed with the first key");
    // Now sealed with the new key: no more rewrite, and the old key can go.
    assert_eq!(rotated.get("/get").await.set_cookie, None);
    let mut new_only = Client::new(SessionLayer::new(
        Keys::parse("new-key-0123456789").unwrap(),
    ));
    new_only.cookie = rotated.cookie.clone();
    assert_eq!(new_only.get("/get").await.body, "ada");
}

#[tokio::test]
async fn ten_thousand_mutations_all_yield_an_empty_session() {
    let c = Client::new(SessionLayer::new(keys()));
    let reply = c
        .send_with("/set?v=secret-of-another-user", None, None)
        .await;
    let pair = reply.pair().unwrap().to_owned();
    let value = pair.strip_prefix("YOLK_SESS=").unwrap().to_owned();
    assert_eq!(
        c.send_with("/get", Some(&pair), None).await.body,
        "secret-of-another-user"
    );

    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.%";
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..10_000 {
        let mut bytes = value.clone().into_bytes();
        match round % 5 {
            0 => {
                let i = rng.random_range(0..bytes.len());
                let mut b = ALPHABET[rng.random_range(0..ALPHABET.len())];
                while b == bytes[i] {
                    b = ALPHABET[rng.random_range(0..ALPHABET.len())];
                }
                bytes[i] = b;
            }
            1 => bytes.truncate(rng.random_range(0..bytes.len())),
            2 => {
                bytes.remove(rng.random_range(0..bytes.len()));
            }
            3 => {
                let i = rng.random_range(0..=bytes.len());
                bytes.insert(i, ALPHABET[rng.random_range(0..ALPHABET.len())]);
            }
            _ => {
                let i = rng.random_range(0..bytes.len() - 1);
                let j = rng.random_range(i + 1..bytes.len());
                bytes.swap(i, j);
                if bytes == value.as_bytes() {
                    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                }
            }
        }
        let cookie = format!("YOLK_SESS={}", String::from_utf8(bytes).unwrap());
        let reply = c.send_with("/get", Some(&cookie), None).await;
        assert_eq!(reply.status, StatusCode::OK, "round {round}: {cookie}");
        assert_eq!(reply.body, "none", "round {round}: {cookie}");
        assert_eq!(reply.set_cookie, None, "round {round}");
    }
}

#[tokio::test]
async fn foreign_cookies_do_not_open() {
    let c = Client::new(SessionLayer::new(keys()));
    let reply = c.send_with("/set?v=ada", None, None).await;
    let value = reply
        .pair()
        .unwrap()
        .strip_prefix("YOLK_SESS=")
        .unwrap()
        .to_owned();
    // The same value under another cookie name of the same app does not open.
    let other = Client::new(SessionLayer::new(keys()).with_cookie_name("OTHER"));
    let reply = other
        .send_with("/get", Some(&format!("OTHER={value}")), None)
        .await;
    assert_eq!(reply.body, "none");
    // Another app's keys do not open it.
    let foreign = Client::new(SessionLayer::new(Keys::parse("someone-else").unwrap()));
    let reply = foreign
        .send_with("/get", Some(&format!("YOLK_SESS={value}")), None)
        .await;
    assert_eq!(reply.body, "none");
    // A value encrypted with the right keys but not a session record does not open either.
    let sealed = keys().encrypt(b"YOLK_SESS\0{\"user\":\"eve\"}").unwrap();
    let reply = c
        .send_with("/get", Some(&format!("YOLK_SESS={sealed}")), None)
        .await;
    assert_eq!(reply.body, "none");
}

#[tokio::test]
async fn a_session_too_large_for_a_cookie_is_an_error_naming_the_limit() {
    let mut c = Client::new(SessionLayer::new(keys()));
    c.get("/set?v=ada").await;
    let reply = c.get("/big").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("4093-byte limit"), "{}", reply.body);
    assert!(reply.body.contains("store"), "{}", reply.body);
    // Refused whole: the session is as it was, and nothing was written.
    assert_eq!(reply.set_cookie, None);
    assert_eq!(c.get("/get").await.body, "ada");
    // An external store takes it.
    let mut c = Client::new(SessionLayer::with_store(MemoryStore::new()));
    assert_eq!(c.get("/big").await.status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_requests_last_write_wins() {
    for store in [false, true] {
        let layer = if store {
            SessionLayer::with_store(MemoryStore::new())
        } else {
            SessionLayer::new(keys())
        };
        let slow = |order: u64| {
            move |session: Session| async move {
                let mut seen: Vec<u64> = session.get("seen").unwrap().unwrap_or_default();
                tokio::time::sleep(Duration::from_millis(50 * order)).await;
                seen.push(order);
                session.insert("seen", &seen).unwrap();
                "ok"
            }
        };
        let app = Router::new()
            .route("/a", get(slow(1)))
            .route("/b", get(slow(3)))
            .route(
                "/seen",
                get(|session: Session| async move {
                    format!(
                        "{:?}",
                        session.get::<Vec<u64>>("seen").unwrap().unwrap_or_default()
                    )
                }),
            )
            .layer(layer);
        let send = |path: &'static str, cookie: Option<String>| {
            let app = app.clone();
            async move {
                let mut request = Request::get(path);
                if let Some(cookie) = cookie {
                    request = request.header(header::COOKIE, cookie);
                }
                app.oneshot(request.body(Body::empty()).unwrap())
                    .await
                    .unwrap()
            }
        };
        let first = send("/a", None).await;
        let cookie = first.headers()[header::SET_COOKIE].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        // Both start from [1]; /b answers last, so its save wins.
        let (a, b) = tokio::join!(
            send("/a", Some(cookie.clone())),
            send("/b", Some(cookie.clone()))
        );
        let pair = |r: &http::Response<Body>| {
            r.headers()[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        let (a, b) = (pair(&a), pair(&b));
        let latest = if store { cookie.clone() } else { b.clone() };
        let body = send("/seen", Some(latest)).await.into_body();
        let body = axum::body::to_bytes(body, 64).await.unwrap();
        assert_eq!(body, "[1, 3]", "store {store}");
        if !store {
            // With the cookie store, each response carries its own whole session.
            let body = send("/seen", Some(a)).await.into_body();
            assert_eq!(axum::body::to_bytes(body, 64).await.unwrap(), "[1, 1]");
        }
    }
}

#[tokio::test]
async fn missing_layer_is_a_500_telling_the_fix_in_json_for_json_clients() {
    let app = Router::new()
        .route("/", get(|_session: Session| async { "unreachable" }))
        .route(
            "/optional",
            get(|session: Option<Session>| async move { format!("{}", session.is_some()) }),
        );
    let request = Request::get("/")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("SessionLayer::new(keys)")
    );
    let response = app
        .oneshot(Request::get("/optional").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        axum::body::to_bytes(response.into_body(), 16)
            .await
            .unwrap(),
        "false"
    );
}

#[tokio::test]
async fn no_keys_is_a_500_naming_keys() {
    let mut c = Client::new(SessionLayer::new(Keys::default()));
    assert_eq!(c.get("/get").await.body, "none");
    let reply = c.get("/set?v=ada").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("keys"), "{}", reply.body);
    assert_eq!(reply.set_cookie, None);
}

#[tokio::test]
async fn attributes_from_the_builder() {
    let layer = SessionLayer::new(keys())
        .with_cookie_name("sid")
        .with_path("/app")
        .with_domain("example.com")
        .with_same_site(yolk_session::SameSite::None)
        .with_http_only(false);
    let app = common::routes::<()>().layer(layer);
    let response = app
        .oneshot(Request::get("/set?v=a").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("sid="), "{set}");
    for attribute in ["Path=/app", "Domain=example.com", "SameSite=None", "Secure"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains("HttpOnly"), "{set}");
}

#[tokio::test]
async fn over_a_real_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = common::routes::<()>().layer(SessionLayer::new(keys()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri = |path: &str| {
        format!("http://{address}{path}")
            .parse::<http::Uri>()
            .unwrap()
    };
    let response = client.get(uri("/set?v=socket")).await.unwrap();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let request = Request::get(uri("/get"))
        .header(header::COOKIE, cookie)
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, "socket");
    server.abort();
}
