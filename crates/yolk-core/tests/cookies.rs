//! `CookieLayer` and `Cookies` driven through a real axum `Router`.

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Path;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use tower::ServiceExt;
use yolk_core::cookies::{
    CookieError, CookieLayer, CookieOptions, Cookies, CookiesRejection, SameSite,
};
use yolk_core::keys::{Keys, KeysError};

const REMOVED: &str = "HttpOnly; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

/// Egg's signature, computed without yolk: base64url without padding of
/// HMAC-SHA256(key, "name=value").
fn egg_sig(key: &str, name: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{name}={value}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn show(value: Option<String>) -> String {
    value.map_or_else(|| "<none>".to_owned(), |v| format!("some:{v}"))
}

fn outcome(result: Result<(), CookieError>) -> axum::response::Response {
    match result {
        Ok(()) => "ok".into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

fn app(keys: Keys) -> Router {
    Router::new()
        .route(
            "/set/plain",
            get(|c: Cookies| async move { outcome(c.set("theme", "dark", &CookieOptions::new())) }),
        )
        .route(
            "/set/signed",
            get(|c: Cookies| async move {
                outcome(c.set("user", "42", &CookieOptions::new().with_signed(true)))
            }),
        )
        .route(
            "/set/encrypted",
            get(|c: Cookies| async move {
                let options = CookieOptions::new().with_encrypted(true);
                outcome(c.set("secret", "hello; wörld", &options))
            }),
        )
        .route(
            "/set/options",
            get(|c: Cookies| async move {
                let options = CookieOptions::new()
                    .with_path("/admin")
                    .with_domain("example.com")
                    .with_http_only(false)
                    .with_secure(true)
                    .with_same_site(SameSite::Strict)
                    .with_max_age(Duration::from_secs(3600))
                    .with_expires(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
                outcome(c.set("pref", "x", &options))
            }),
        )
        .route(
            "/remove/signed",
            get(|c: Cookies| async move {
                outcome(c.remove("user", &CookieOptions::new().with_signed(true)))
            }),
        )
        .route(
            "/get/plain/{name}",
            get(|c: Cookies, Path(name): Path<String>| async move { show(c.get(&name)) }),
        )
        .route(
            "/get/signed/{name}",
            get(|c: Cookies, Path(name): Path<String>| async move { show(c.get_signed(&name)) }),
        )
        .route(
            "/get/encrypted/{name}",
            get(|c: Cookies, Path(name): Path<String>| async move { show(c.get_encrypted(&name)) }),
        )
        .route(
            "/optional",
            get(|c: Option<Cookies>| async move { if c.is_some() { "some" } else { "none" } }),
        )
        .route(
            "/own-header",
            get(|c: Cookies| async move {
                c.set("jar", "1", &CookieOptions::new()).unwrap();
                ([(header::SET_COOKIE, "handler=1")], "ok")
            }),
        )
        .route("/untouched", get(|| async { "ok" }))
        .layer(CookieLayer::new(keys))
}

struct Reply {
    status: StatusCode,
    set_cookies: Vec<String>,
    body: String,
}

async fn send(app: &Router, uri: &str, cookie: Option<HeaderValue>) -> Reply {
    let mut req = Request::get(uri).body(Body::empty()).unwrap();
    if let Some(cookie) = cookie {
        req.headers_mut().insert(header::COOKIE, cookie);
    }
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let set_cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    Reply {
        status,
        set_cookies,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn cookie(s: &str) -> Option<HeaderValue> {
    Some(HeaderValue::try_from(s).unwrap())
}

#[tokio::test]
async fn set_plain() {
    let app = app(Keys::parse("k").unwrap());
    let reply = send(&app, "/set/plain", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.set_cookies, ["theme=dark; HttpOnly; Path=/"]);
}

#[tokio::test]
async fn set_with_every_option() {
    let app = app(Keys::default());
    let reply = send(&app, "/set/options", None).await;
    assert_eq!(
        reply.set_cookies,
        [
            "pref=x; SameSite=Strict; Secure; Path=/admin; Domain=example.com; Max-Age=3600; \
          Expires=Tue, 14 Nov 2023 22:13:20 GMT"
        ]
    );
}

#[tokio::test]
async fn set_signed_writes_egg_sig() {
    let app = app(Keys::parse("secret-key").unwrap());
    let reply = send(&app, "/set/signed", None).await;
    assert_eq!(
        reply.set_cookies,
        [
            "user=42; HttpOnly; Path=/".to_owned(),
            format!(
                "user.sig={}; HttpOnly; Path=/",
                egg_sig("secret-key", "user", "42")
            ),
        ]
    );
}

#[test]
fn egg_sig_matches_a_fixed_vector() {
    // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(b"keys",
    //   b"name=value", hashlib.sha256).digest()).rstrip(b"=").decode())'
    let expected = "CsuEwUdlRTAfEJMSdncTNhXKj2UyFLhHRkdIkTdI_sc";
    assert_eq!(egg_sig("keys", "name", "value"), expected);
    assert_eq!(
        Keys::parse("keys").unwrap().sign(b"name=value").unwrap(),
        expected
    );
}

#[tokio::test]
async fn signed_roundtrip() {
    let app = app(Keys::parse("secret-key").unwrap());
    let sig = egg_sig("secret-key", "user", "42");
    let reply = send(
        &app,
        "/get/signed/user",
        cookie(&format!("user=42; user.sig={sig}")),
    )
    .await;
    assert_eq!(reply.body, "some:42");
    assert!(reply.set_cookies.is_empty());

    // A plain read of a signed cookie sees the raw value.
    let reply = send(
        &app,
        "/get/plain/user.sig",
        cookie(&format!("user.sig={sig}")),
    )
    .await;
    assert_eq!(reply.body, format!("some:{sig}"));
}

#[tokio::test]
async fn key_rotation_resigns_with_the_new_key() {
    let old_sig = Keys::parse("old").unwrap().sign(b"user=42").unwrap();
    assert_eq!(old_sig, egg_sig("old", "user", "42"));

    let app = app(Keys::parse("new,old").unwrap());
    let reply = send(
        &app,
        "/get/signed/user",
        cookie(&format!("user=42; user.sig={old_sig}")),
    )
    .await;
    assert_eq!(reply.body, "some:42");
    assert_eq!(
        reply.set_cookies,
        [format!(
            "user.sig={}; HttpOnly; Path=/",
            egg_sig("new", "user", "42")
        )]
    );
}

#[tokio::test]
async fn tampered_value_or_sig_is_absent_and_sig_expired() {
    let app = app(Keys::parse("secret-key").unwrap());
    let sig = egg_sig("secret-key", "user", "42");
    let other = egg_sig("another-key", "user", "42");
    for header in [
        format!("user=43; user.sig={sig}"),
        format!("user=42; user.sig={other}"),
        format!("user=42; user.sig={}", &sig[1..]),
        "user=42; user.sig=".to_owned(),
    ] {
        let reply = send(&app, "/get/signed/user", cookie(&header)).await;
        assert_eq!(reply.body, "<none>", "{header}");
        assert_eq!(
            reply.set_cookies,
            [format!("user.sig=; {REMOVED}")],
            "{header}"
        );
    }
}

#[tokio::test]
async fn missing_cookie_or_sig_is_absent_without_writes() {
    let app = app(Keys::parse("secret-key").unwrap());
    let sig = egg_sig("secret-key", "user", "42");
    for header in [
        "user=42".to_owned(),
        format!("user.sig={sig}"),
        String::new(),
    ] {
        let reply = send(&app, "/get/signed/user", cookie(&header)).await;
        assert_eq!(reply.body, "<none>");
        assert!(reply.set_cookies.is_empty());
    }
    let reply = send(&app, "/get/signed/user", None).await;
    assert_eq!(reply.body, "<none>");
}

/// Characters a mutation may introduce: visible ASCII except `;`, which would only cut the
/// value short. (Whitespace at either end would be trimmed away, so it is left out too.)
fn random_char(rng: &mut StdRng) -> u8 {
    loop {
        let b = rng.random_range(0x21u8..=0x7E);
        if b != b';' {
            return b;
        }
    }
}

fn mutate(rng: &mut StdRng, original: &str) -> String {
    let mut bytes = original.as_bytes().to_vec();
    let ops = rng.random_range(1..=3);
    for _ in 0..ops {
        match rng.random_range(0..4) {
            // Flip: replace one byte.
            0 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = random_char(rng);
            }
            // Insert one byte anywhere.
            1 => {
                let i = rng.random_range(0..=bytes.len());
                bytes.insert(i, random_char(rng));
            }
            // Delete one byte.
            2 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes.remove(i);
            }
            // Truncate.
            _ => {
                let len = rng.random_range(0..=bytes.len());
                bytes.truncate(len);
            }
        }
    }
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn ten_thousand_random_tamperings_of_a_signed_cookie() {
    let keys = Keys::parse("secret-key").unwrap();
    let app = app(keys.clone());
    let value = "user-42.admin=false";
    let sig = keys.sign(format!("user={value}").as_bytes()).unwrap();
    let good = format!("user={value}; user.sig={sig}");
    assert_eq!(
        send(&app, "/get/signed/user", cookie(&good)).await.body,
        format!("some:{value}")
    );

    let mut rng = StdRng::seed_from_u64(0x5eed_c00c);
    let mut tried = 0;
    while tried < 10_000 {
        let (v, s) = if rng.random_bool(0.5) {
            (mutate(&mut rng, value), sig.clone())
        } else {
            (value.to_owned(), mutate(&mut rng, &sig))
        };
        if v == value && s == sig {
            continue;
        }
        tried += 1;
        let header = format!("user={v}; user.sig={s}");
        let reply = send(&app, "/get/signed/user", cookie(&header)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "<none>", "accepted tampered cookie {header:?}");
        assert_eq!(
            reply.set_cookies,
            [format!("user.sig=; {REMOVED}")],
            "{header:?}"
        );
    }
}

#[tokio::test]
async fn ten_thousand_random_tamperings_of_an_encrypted_cookie() {
    let keys = Keys::parse("secret-key").unwrap();
    let app = app(keys.clone());
    let sealed = keys.encrypt(b"user 42, admin false").unwrap();
    let good = format!("secret={sealed}");
    assert_eq!(
        send(&app, "/get/encrypted/secret", cookie(&good))
            .await
            .body,
        "some:user 42, admin false"
    );

    let mut rng = StdRng::seed_from_u64(0x5eed_5ea1);
    let mut tried = 0;
    while tried < 10_000 {
        let mutated = mutate(&mut rng, &sealed);
        if mutated == sealed {
            continue;
        }
        tried += 1;
        let header = format!("secret={mutated}");
        let reply = send(&app, "/get/encrypted/secret", cookie(&header)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "<none>", "accepted tampered cookie {header:?}");
        assert!(reply.set_cookies.is_empty());
    }
}

#[tokio::test]
async fn encrypted_roundtrip() {
    let app = app(Keys::parse("secret-key").unwrap());
    let reply = send(&app, "/set/encrypted", None).await;
    assert_eq!(reply.set_cookies.len(), 1);
    let set = &reply.set_cookies[0];
    assert!(set.starts_with("secret="));
    assert!(set.ends_with("; HttpOnly; Path=/"));
    assert!(!set.contains("hello"));
    let pair = set.split(';').next().unwrap();

    let reply = send(&app, "/get/encrypted/secret", cookie(pair)).await;
    assert_eq!(reply.body, "some:hello; wörld");
    assert!(reply.set_cookies.is_empty());

    // Another application's keys cannot read it.
    let other = self::app(Keys::parse("other-key").unwrap());
    assert_eq!(
        send(&other, "/get/encrypted/secret", cookie(pair))
            .await
            .body,
        "<none>"
    );
}

#[tokio::test]
async fn encrypted_with_an_old_key_still_decrypts() {
    let sealed = Keys::parse("old").unwrap().encrypt(b"payload").unwrap();
    let app = app(Keys::parse("new,old").unwrap());
    let reply = send(
        &app,
        "/get/encrypted/secret",
        cookie(&format!("secret={sealed}")),
    )
    .await;
    assert_eq!(reply.body, "some:payload");
}

#[tokio::test]
async fn no_keys_is_a_clear_error() {
    let app = app(Keys::default());
    for uri in ["/set/signed", "/set/encrypted"] {
        let reply = send(&app, uri, None).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            reply
                .body
                .contains("set `keys` in config/config.default.toml"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("YOLK_KEYS"));
        assert!(reply.set_cookies.is_empty(), "nothing half-written");
    }
    // Plain cookies need no key; signed and encrypted reads are absent, without panicking.
    assert_eq!(send(&app, "/set/plain", None).await.status, StatusCode::OK);
    let sig = egg_sig("k", "user", "42");
    let reply = send(
        &app,
        "/get/signed/user",
        cookie(&format!("user=42; user.sig={sig}")),
    )
    .await;
    assert_eq!(reply.body, "<none>");
    assert!(reply.set_cookies.is_empty());
    let reply = send(&app, "/get/encrypted/x", cookie("x=abc")).await;
    assert_eq!(reply.body, "<none>");

    let jar = Cookies::from_headers(Keys::default(), &Default::default());
    let err = jar
        .set("a", "b", &CookieOptions::new().with_signed(true))
        .unwrap_err();
    assert_eq!(err, CookieError::Keys(KeysError::NoKeys));
}

#[tokio::test]
async fn remove_signed_expires_both() {
    let app = app(Keys::default());
    let reply = send(&app, "/remove/signed", None).await;
    assert_eq!(
        reply.set_cookies,
        [format!("user=; {REMOVED}"), format!("user.sig=; {REMOVED}")]
    );
}

#[test]
fn invalid_names_and_values_are_errors() {
    let jar = Cookies::from_headers(Keys::parse("k").unwrap(), &Default::default());
    let plain = CookieOptions::new();
    for name in ["", "a b", "a;b", "a=b", "naïve", "a\u{7f}"] {
        assert_eq!(
            jar.set(name, "v", &plain),
            Err(CookieError::InvalidName {
                name: name.to_owned()
            })
        );
    }
    for value in ["a b", "a;b", "a,b", "\"q\"", "a\\b", "a\nb", "é"] {
        assert_eq!(
            jar.set("n", value, &plain),
            Err(CookieError::InvalidValue {
                name: "n".to_owned()
            })
        );
        assert_eq!(
            jar.set("n", value, &plain.clone().with_signed(true)),
            Err(CookieError::InvalidValue {
                name: "n".to_owned()
            })
        );
        // Encrypted values may hold anything.
        jar.set("n", value, &plain.clone().with_encrypted(true))
            .unwrap();
    }
    assert_eq!(
        jar.set("n", "v", &plain.clone().with_path("/a; Domain=evil")),
        Err(CookieError::InvalidAttribute {
            name: "n".to_owned(),
            attribute: "path"
        })
    );
    assert_eq!(
        jar.set("n", "v", &plain.with_domain("a\r\nb")),
        Err(CookieError::InvalidAttribute {
            name: "n".to_owned(),
            attribute: "domain"
        })
    );
    let message = CookieError::InvalidValue {
        name: "n".to_owned(),
    }
    .to_string();
    assert!(message.contains("with_encrypted(true)"));
}

#[tokio::test]
async fn hostile_cookie_headers_never_panic() {
    let app = app(Keys::parse("k").unwrap());
    let mut headers: Vec<HeaderValue> = vec![
        HeaderValue::from_static("=;;=;"),
        HeaderValue::from_static(""),
        HeaderValue::from_static(";;;;"),
        HeaderValue::from_static("noequals"),
        HeaderValue::from_static("=value"),
        HeaderValue::from_static("user=1; user=2; user.sig=x; user.sig="),
        HeaderValue::from_bytes(b"user=\xff\xfe; \xc3(=1; user.sig=\x80").unwrap(),
        HeaderValue::try_from("a=b; ".repeat(64 * 1024 / 5)).unwrap(),
        HeaderValue::try_from(format!("user={}", "x".repeat(64 * 1024))).unwrap(),
        HeaderValue::try_from(format!("secret={}", "A".repeat(64 * 1024))).unwrap(),
    ];
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..300 {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                loop {
                    let b: u8 = rng.random();
                    // Bytes an HTTP header value can carry: tab, visible ASCII, and obs-text.
                    if b == b'\t' || (0x20..0x7F).contains(&b) || b >= 0x80 {
                        break b;
                    }
                }
            })
            .collect();
        headers.push(HeaderValue::from_bytes(&bytes).unwrap());
    }
    for header in headers {
        for uri in [
            "/get/plain/user",
            "/get/signed/user",
            "/get/encrypted/secret",
        ] {
            let reply = send(&app, uri, Some(header.clone())).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri} {header:?}");
        }
    }
}

#[tokio::test]
async fn duplicate_names_first_wins_and_every_cookie_header_counts() {
    let app = app(Keys::default());
    let reply = send(&app, "/get/plain/a", cookie("a=1; a=2")).await;
    assert_eq!(reply.body, "some:1");

    let mut req = Request::get("/get/plain/b").body(Body::empty()).unwrap();
    req.headers_mut()
        .append(header::COOKIE, HeaderValue::from_static("a=1"));
    req.headers_mut()
        .append(header::COOKIE, HeaderValue::from_static("b=2"));
    let res = app.oneshot(req).await.unwrap();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert_eq!(body, "some:2");
}

#[tokio::test]
async fn handler_headers_are_kept_and_untouched_requests_get_none() {
    let app = app(Keys::default());
    let reply = send(&app, "/own-header", None).await;
    assert_eq!(reply.set_cookies, ["handler=1", "jar=1; HttpOnly; Path=/"]);
    let reply = send(&app, "/untouched", cookie("a=1")).await;
    assert!(reply.set_cookies.is_empty());
}

#[tokio::test]
async fn missing_layer_is_a_named_rejection() {
    let app: Router = Router::new()
        .route("/", get(|c: Cookies| async move { show(c.get("a")) }))
        .route(
            "/optional",
            get(|c: Option<Cookies>| async move { if c.is_some() { "some" } else { "none" } }),
        );
    let reply = send(&app, "/", None).await;
    let rejection = CookiesRejection::MissingCookieLayer;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.status, rejection.status());
    assert_eq!(reply.body, rejection.body_text());
    assert_eq!(
        reply.body,
        "`Cookies` needs `CookieLayer` around it on the request's task: build the app with \
         `yolk_core::App` or add `CookieLayer::new(keys)` to your router, outside any layer \
         that moves requests to another task (such as tower's `Buffer`)"
    );

    assert_eq!(send(&app, "/optional", None).await.body, "none");
    let with_layer = self::app(Keys::default());
    assert_eq!(send(&with_layer, "/optional", None).await.body, "some");
}

#[tokio::test]
async fn a_write_after_a_bad_signature_leaves_one_sig_header() {
    use axum::routing::get;
    let keys = yolk_core::Keys::parse("key-0123456789abcdef").unwrap();
    let router = axum::Router::new()
        .route(
            "/",
            get(|cookies: yolk_core::Cookies| async move {
                assert_eq!(cookies.get_signed("visits"), None);
                let signed = yolk_core::CookieOptions::new().with_signed(true);
                cookies.set("visits", "1", &signed)?;
                Ok::<_, yolk_core::cookies::CookieError>("1")
            }),
        )
        .layer(yolk_core::CookieLayer::new(keys));
    let request = http::Request::get("/")
        .header("cookie", "visits=5; visits.sig=forged")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    let sigs: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|v| v.starts_with("visits.sig="))
        .collect();
    assert_eq!(sigs.len(), 1, "{sigs:?}");
    assert!(!sigs[0].contains("Max-Age=0"), "{sigs:?}");
}

#[tokio::test]
async fn middleware_and_handler_share_one_jar() {
    async fn visit(cookies: Cookies) -> String {
        cookies.set("handler", "1", &CookieOptions::new()).unwrap();
        show(cookies.get("middleware"))
    }
    async fn mark(
        cookies: Cookies,
        request: Request<Body>,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        cookies
            .set("middleware", "1", &CookieOptions::new())
            .unwrap();
        next.run(request).await
    }
    let app: Router = Router::new()
        .route("/", get(visit))
        .layer(axum::middleware::from_fn(mark))
        .layer(CookieLayer::new(Keys::default()));
    let reply = send(&app, "/", cookie("middleware=sent")).await;
    // The handler reads what the client sent, and both writes reach the response, in order.
    assert_eq!(reply.body, "some:sent");
    assert_eq!(
        reply.set_cookies,
        [
            "middleware=1; HttpOnly; Path=/",
            "handler=1; HttpOnly; Path=/"
        ]
    );
}

#[tokio::test]
async fn a_jar_moved_to_another_task_still_reaches_the_response() {
    let app: Router = Router::new()
        .route(
            "/",
            get(|cookies: Cookies| async move {
                tokio::spawn(async move {
                    cookies.set("spawned", "1", &CookieOptions::new()).unwrap();
                })
                .await
                .unwrap();
                "ok"
            }),
        )
        .layer(CookieLayer::new(Keys::default()));
    let reply = send(&app, "/", None).await;
    assert_eq!(reply.set_cookies, ["spawned=1; HttpOnly; Path=/"]);
}
