//! `SecurityLayer` in a plain axum router, over real sockets.

mod common;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use common::{Reply, req, serve};
use yolk_security::{
    CspNonce, CsrfToken, CsrfType, SafeRedirect, SecurityConfig, SecurityHeader, SecurityLayer,
    SkipSecurityHeaders, UnsafeRedirect, UnsafeRedirects,
};

const SECRET: &str = "client-secret-0123456789";

async fn echo(body: String) -> String {
    format!("ok {}", body.len())
}

async fn token(token: CsrfToken) -> String {
    token.as_str().to_owned()
}

fn routes() -> Router {
    Router::new()
        .route("/", any(echo))
        .route("/hooks/in", any(echo))
        .route("/token", get(token))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/moved", get(|| async { Redirect::to("/") }))
        .route(
            "/embed",
            get(|| async {
                (
                    SkipSecurityHeaders::new([SecurityHeader::FrameOptions]),
                    "x",
                )
            }),
        )
        .route(
            "/deny",
            get(|| async { ([("x-frame-options", "DENY")], "x") }),
        )
        .route(
            "/own-policy",
            get(|| async {
                (
                    [
                        ("content-security-policy", "default-src 'none'"),
                        ("x-xss-protection", "0"),
                    ],
                    "x",
                )
            }),
        )
        .route(
            "/nonce",
            get(|nonce: Option<CspNonce>| async move {
                nonce.map(|n| n.as_str().to_owned()).unwrap_or_default()
            }),
        )
        .route("/go", get(go))
        .route(
            "/go-anyway",
            get(|r: SafeRedirect| async move { r.unsafe_to("https://evil.com/") }),
        )
}

async fn go(
    redirect: SafeRedirect,
    Query(query): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let target = query.first().map(|(_, v)| v.as_str()).unwrap_or("/");
    redirect.to(target).map_err(|e: UnsafeRedirect| e)
}

async fn server(config: SecurityConfig) -> std::net::SocketAddr {
    serve(routes().layer(SecurityLayer::from_config(&config).unwrap())).await
}

async fn default_server() -> std::net::SocketAddr {
    server(SecurityConfig::default()).await
}

fn assert_refused(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(reply.body.starts_with(message), "{reply:?}");
}

// ---- CSRF ----

#[tokio::test]
async fn csrf_safe_methods_pass_and_hand_out_a_script_readable_secret() {
    let addr = default_server().await;
    let reply = req("GET", "/").send(addr).await;
    assert_eq!(reply.status, 200);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.starts_with("csrfToken="), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("httponly"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/"), "{cookie}");
    // A client that has the secret is not given a new one.
    let reply = req("GET", "/").cookie(SECRET).send(addr).await;
    assert_eq!(reply.cookie("csrfToken"), None);
}

#[tokio::test]
async fn extractors_work_in_middleware_inside_the_layer_and_say_when_it_is_missing() {
    use axum::extract::{FromRequestParts, Request};
    use axum::middleware::{Next, from_fn};

    // A middleware inside the layer reads the token the handler would.
    async fn token_header(request: Request, next: Next) -> axum::response::Response {
        let (mut parts, body) = request.into_parts();
        let token = CsrfToken::from_request_parts(&mut parts, &()).await;
        let mut response = next.run(Request::from_parts(parts, body)).await;
        let value = token.map_or_else(|r| r.message().to_owned(), |t| t.as_str().to_owned());
        response
            .headers_mut()
            .insert("x-token", value.parse().unwrap());
        response
    }
    let addr = serve(
        Router::new()
            .route("/token", get(token))
            .layer(from_fn(token_header))
            .layer(SecurityLayer::new()),
    )
    .await;
    let reply = req("GET", "/token").cookie(SECRET).send(addr).await;
    assert_eq!(reply.status, 200);
    assert!(yolk_security::csrf::verify(
        SECRET,
        reply.header("x-token").unwrap()
    ));
    assert!(yolk_security::csrf::verify(SECRET, &reply.body));

    // Without the layer, or off the request's task, the extractors refuse with the fix.
    let addr = serve(Router::new().route("/token", get(token)).route(
        "/spawned",
        get(|request: axum::extract::Request| async move {
            tokio::spawn(async move {
                let (mut parts, _) = request.into_parts();
                CsrfToken::from_request_parts(&mut parts, &())
                    .await
                    .map(|t| t.as_str().to_owned())
            })
            .await
            .unwrap()
        }),
    ))
    .await;
    let reply = req("GET", "/token").cookie(SECRET).send(addr).await;
    assert_refused(&reply, 500, "security layer missing");
    assert!(reply.body.contains("request's task"), "{reply:?}");
    let reply = req("GET", "/spawned").cookie(SECRET).send(addr).await;
    assert_refused(&reply, 500, "security layer missing");
}

#[tokio::test]
async fn csrf_a_new_client_s_token_matches_the_secret_it_is_handed() {
    let addr = default_server().await;
    let reply = req("GET", "/token").send(addr).await;
    assert_eq!(reply.status, 200);
    let secret = reply.cookie("csrfToken").expect("a new secret");
    assert_eq!(secret.len(), 24);
    assert!(
        yolk_security::csrf::verify(&secret, &reply.body),
        "{reply:?}"
    );
    let reply = req("POST", "/")
        .cookie(&secret)
        .header("x-csrf-token", &reply.body)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn csrf_missing_token_is_403() {
    let addr = default_server().await;
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let reply = req(method, "/").cookie(SECRET).send(addr).await;
        assert_refused(&reply, 403, "missing csrf token");
    }
    // No secret yet: missing too, and the 403 hands one out for the retry.
    let reply = req("POST", "/")
        .header("x-csrf-token", SECRET)
        .send(addr)
        .await;
    assert_refused(&reply, 403, "missing csrf token");
    assert!(reply.cookie("csrfToken").is_some());
}

#[tokio::test]
async fn csrf_wrong_token_is_invalid() {
    let addr = default_server().await;
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("x-csrf-token", "not-the-secret")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
    let forged = yolk_security::csrf::salted_token("another-secret");
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("x-csrf-token", &forged)
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
    // Without rotation, no new secret.
    assert_eq!(reply.cookie("csrfToken"), None);
}

#[tokio::test]
async fn csrf_raw_secret_in_the_header_passes() {
    let addr = default_server().await;
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("x-csrf-token", SECRET)
        .body("application/json", b"{\"a\":1}")
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok 7"));
}

#[tokio::test]
async fn csrf_salted_token_from_the_extractor_passes_in_header_query_and_body() {
    let addr = default_server().await;
    let salted = req("GET", "/token").cookie(SECRET).send(addr).await.body;
    assert_ne!(salted, SECRET);
    assert_ne!(
        salted,
        req("GET", "/token").cookie(SECRET).send(addr).await.body
    );

    let reply = req("PUT", "/")
        .cookie(SECRET)
        .header("x-csrf-token", &salted)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let reply = req("DELETE", &format!("/?_csrf={salted}"))
        .cookie(SECRET)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let body = format!("name=a&_csrf={salted}");
    let reply = req("POST", "/").cookie(SECRET).form(&body).send(addr).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The handler still reads the whole body.
    assert_eq!(reply.body, format!("ok {}", body.len()));

    let reply = req("POST", "/")
        .cookie(SECRET)
        .form("_csrf=wrong")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
    let reply = req("POST", "/")
        .cookie(SECRET)
        .form("name=a")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "missing csrf token");
}

#[tokio::test]
async fn csrf_token_in_a_multipart_body_passes() {
    let addr = default_server().await;
    let body = format!(
        "--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n\
         --XyZ\r\ncontent-disposition: form-data; name=\"_csrf\"\r\n\r\n{SECRET}\r\n--XyZ--\r\n"
    );
    let reply = req("POST", "/")
        .cookie(SECRET)
        .body("multipart/form-data; boundary=XyZ", body.as_bytes())
        .send(addr)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, format!("ok {}", body.len()));

    let wrong = body.replace(SECRET, "nope");
    let reply = req("POST", "/")
        .cookie(SECRET)
        .body("multipart/form-data; boundary=XyZ", wrong.as_bytes())
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
}

#[tokio::test]
async fn csrf_form_body_over_the_limit_is_413_naming_the_fix() {
    let mut config = SecurityConfig::default();
    config.csrf.body_limit = 64;
    let addr = server(config).await;
    let body = format!("x={}&_csrf={SECRET}", "a".repeat(100));
    let reply = req("POST", "/").cookie(SECRET).form(&body).send(addr).await;
    assert_refused(&reply, 413, "form body too large");
    assert!(reply.body.contains("x-csrf-token"), "{reply:?}");
}

#[tokio::test]
async fn csrf_403_is_json_for_json_clients() {
    let addr = default_server().await;
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("accept", "application/json")
        .send(addr)
        .await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let json = reply.json();
    assert_eq!(json["message"], "missing csrf token");
    assert!(json["hint"].as_str().unwrap().contains("x-csrf-token"));
    // The security headers are on refusals too.
    assert_eq!(reply.header("x-frame-options"), Some("SAMEORIGIN"));
}

#[tokio::test]
async fn csrf_referer_type() {
    let mut config = SecurityConfig::default();
    config.csrf.kind = CsrfType::Referer;
    config.csrf.referer_white_list = vec!["trusted.test".into()];
    let addr = server(config).await;
    let post = || req("POST", "/");

    assert_refused(
        &post().send(addr).await,
        403,
        "missing csrf referer or origin",
    );
    let reply = post()
        .header("referer", "https://evil.test/page")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf referer or origin");
    let reply = post().header("origin", "null").send(addr).await;
    assert_refused(&reply, 403, "invalid csrf referer or origin");
    let reply = post()
        .header("referer", "https://trusted.test.evil.test/")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf referer or origin");

    let own = format!("http://{addr}/form");
    assert_eq!(post().header("referer", &own).send(addr).await.status, 200);
    let reply = post()
        .header("origin", "https://app.trusted.test")
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    // The referer type needs no secret: no cookie handed out.
    assert_eq!(req("GET", "/").send(addr).await.cookie("csrfToken"), None);
}

#[tokio::test]
async fn csrf_origin_type_trusts_sec_fetch_site() {
    let mut config = SecurityConfig::default();
    config.csrf.kind = CsrfType::Origin;
    let addr = server(config).await;
    let post = || req("POST", "/");
    for site in ["same-origin", "none"] {
        let reply = post().header("sec-fetch-site", site).send(addr).await;
        assert_eq!(reply.status, 200, "{site}: {reply:?}");
    }
    for site in ["cross-site", "same-site"] {
        let reply = post().header("sec-fetch-site", site).send(addr).await;
        assert_refused(&reply, 403, "invalid csrf origin");
    }
    // `Sec-Fetch-Site` wins over a same-origin `Origin`.
    let reply = post()
        .header("sec-fetch-site", "cross-site")
        .header("origin", &format!("http://{addr}"))
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf origin");
    // Safe methods are not checked, and no token or cookie is involved.
    let reply = req("GET", "/")
        .header("sec-fetch-site", "cross-site")
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.cookie("csrfToken"), None);
}

#[tokio::test]
async fn csrf_origin_type_falls_back_to_origin_then_referer() {
    let mut config = SecurityConfig::default();
    config.csrf.kind = CsrfType::Origin;
    config.csrf.referer_white_list = vec!["trusted.test".into()];
    let addr = server(config).await;
    let post = || req("POST", "/");

    let own = format!("http://{addr}");
    assert_eq!(post().header("origin", &own).send(addr).await.status, 200);
    let page = format!("http://{addr}/form?x=1");
    assert_eq!(post().header("referer", &page).send(addr).await.status, 200);
    let reply = post()
        .header("origin", "https://app.trusted.test")
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    // A trusted origin passes even where the browser says cross-site.
    let reply = post()
        .header("origin", "https://trusted.test")
        .header("sec-fetch-site", "cross-site")
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);

    // Another port of the same host is another origin.
    let other_port = format!("http://{}:{}", addr.ip(), addr.port().wrapping_add(1));
    let refused = [
        ("origin", "https://evil.test"),
        ("origin", "null"),
        ("origin", other_port.as_str()),
        ("referer", "https://trusted.test.evil.test/"),
        ("origin", "ftp://trusted.test"),
    ];
    for (name, value) in refused {
        let reply = post().header(name, value).send(addr).await;
        assert_refused(&reply, 403, "invalid csrf origin");
    }
    // `Origin` is read before `Referer`.
    let reply = post()
        .header("origin", "https://evil.test")
        .header("referer", &page)
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf origin");
    // Neither header: refused, in JSON for JSON clients.
    let reply = post().header("accept", "application/json").send(addr).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["message"], "invalid csrf origin");
    assert!(
        reply.json()["hint"]
            .as_str()
            .unwrap()
            .contains("referer_white_list")
    );
}

#[tokio::test]
async fn csrf_all_and_any_types() {
    let mut config = SecurityConfig::default();
    config.csrf.kind = CsrfType::All;
    let all = server(config.clone()).await;
    config.csrf.kind = CsrfType::Any;
    let any = server(config).await;
    let foreign = "https://evil.test/";

    // all: token and referer.
    let with_token = || {
        req("POST", "/")
            .cookie(SECRET)
            .header("x-csrf-token", SECRET)
    };
    let reply = with_token().header("referer", foreign).send(all).await;
    assert_refused(&reply, 403, "invalid csrf referer or origin");
    let own = format!("http://{all}/");
    assert_eq!(
        with_token().header("referer", &own).send(all).await.status,
        200
    );
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("referer", &own)
        .send(all)
        .await;
    assert_refused(&reply, 403, "missing csrf token");

    // any: either.
    let own = format!("http://{any}/");
    assert_eq!(
        req("POST", "/")
            .header("referer", &own)
            .send(any)
            .await
            .status,
        200
    );
    assert_eq!(
        with_token()
            .header("referer", foreign)
            .send(any)
            .await
            .status,
        200
    );
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("referer", foreign)
        .send(any)
        .await;
    assert_refused(&reply, 403, "missing csrf token");
}

#[tokio::test]
async fn csrf_match_and_ignore_exempt_paths() {
    let mut config = SecurityConfig::default();
    config.csrf.ignore = vec!["/hooks".parse().unwrap()];
    let ignoring = server(config).await;
    assert_eq!(req("POST", "/hooks/in").send(ignoring).await.status, 200);
    assert_eq!(req("POST", "/").send(ignoring).await.status, 403);

    let mut config = SecurityConfig::default();
    config.csrf.match_ = vec!["^/hooks/".parse().unwrap()];
    let matching = server(config).await;
    assert_eq!(req("POST", "/").send(matching).await.status, 200);
    assert_eq!(req("POST", "/hooks/in").send(matching).await.status, 403);

    let mut config = SecurityConfig::default();
    config.csrf.methods = vec!["POST".into()];
    let only_post = server(config).await;
    assert_eq!(req("DELETE", "/").send(only_post).await.status, 200);
    assert_eq!(req("POST", "/").send(only_post).await.status, 403);

    let mut config = SecurityConfig::default();
    config.csrf.ignore_json = true;
    let ignore_json = server(config).await;
    let reply = req("POST", "/")
        .body("application/json", b"{}")
        .send(ignore_json)
        .await;
    assert_eq!(reply.status, 200);

    let mut config = SecurityConfig::default();
    config.csrf.enable = false;
    let off = server(config).await;
    assert_eq!(req("POST", "/").send(off).await.status, 200);
    assert_eq!(req("GET", "/token").send(off).await.status, 500);
}

#[tokio::test]
async fn csrf_rotation_when_invalid() {
    let mut config = SecurityConfig::default();
    config.csrf.rotate_when_invalid = true;
    let addr = server(config).await;
    let reply = req("POST", "/")
        .cookie(SECRET)
        .header("x-csrf-token", "bad")
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
    let rotated = reply.cookie("csrfToken").expect("a new secret");
    assert_ne!(rotated, SECRET);
    // The new secret works; the old one no longer matches a client holding the new cookie.
    let reply = req("POST", "/")
        .cookie(&rotated)
        .header("x-csrf-token", &rotated)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    let reply = req("POST", "/")
        .cookie(&rotated)
        .header("x-csrf-token", SECRET)
        .send(addr)
        .await;
    assert_refused(&reply, 403, "invalid csrf token");
    // A missing token is not a reason to rotate.
    let reply = req("POST", "/").cookie(SECRET).send(addr).await;
    assert_eq!(reply.cookie("csrfToken"), None);
}

#[tokio::test]
async fn csrf_cookie_name_and_domain_are_configurable() {
    let mut config = SecurityConfig::default();
    config.csrf.cookie_name = "XSRF-TOKEN".into();
    config.csrf.cookie_domain = Some("example.test".into());
    config.csrf.header_name = "x-xsrf-token".into();
    let addr = server(config).await;
    let reply = req("GET", "/").send(addr).await;
    let cookie = reply.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("XSRF-TOKEN=") && cookie.contains("Domain=example.test"),
        "{cookie}"
    );
    let reply = req("POST", "/")
        .header("cookie", &format!("XSRF-TOKEN={SECRET}"))
        .header("x-xsrf-token", SECRET)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
}

// ---- headers ----

#[tokio::test]
async fn default_headers_on_success_errors_404_and_refusals() {
    let addr = default_server().await;
    for reply in [
        req("GET", "/").send(addr).await,
        req("GET", "/boom").send(addr).await,
        req("GET", "/missing").send(addr).await,
        req("POST", "/").send(addr).await,
    ] {
        assert_eq!(
            reply.header("x-frame-options"),
            Some("SAMEORIGIN"),
            "{reply:?}"
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("x-download-options"), Some("noopen"));
        assert_eq!(reply.header("x-xss-protection"), Some("1; mode=block"));
        assert_eq!(reply.header("strict-transport-security"), None);
        assert_eq!(reply.header("content-security-policy"), None);
        assert_eq!(reply.header("referrer-policy"), None);
    }
}

#[tokio::test]
async fn nosniff_is_not_sent_on_redirects() {
    let addr = default_server().await;
    let reply = req("GET", "/moved").send(addr).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("x-content-type-options"), None);
    assert_eq!(reply.header("x-frame-options"), Some("SAMEORIGIN"));
}

#[tokio::test]
async fn each_default_header_can_be_switched_off() {
    let mut config = SecurityConfig::default();
    config.xframe.enable = false;
    config.nosniff.enable = false;
    config.noopen.enable = false;
    config.xss_protection.enable = false;
    let addr = server(config).await;
    let reply = req("GET", "/").send(addr).await;
    for name in [
        "x-frame-options",
        "x-content-type-options",
        "x-download-options",
        "x-xss-protection",
    ] {
        assert_eq!(reply.header(name), None, "{name}");
    }
}

#[tokio::test]
async fn optional_headers_when_switched_on() {
    let mut config = SecurityConfig::default();
    config.xframe.value = "DENY".into();
    config.hsts.enable = true;
    config.hsts.include_subdomains = true;
    config.referrer_policy.enable = true;
    config.referrer_policy.value = "strict-origin-when-cross-origin".into();
    config.xss_protection.value = "0".into();
    let addr = server(config).await;
    let reply = req("GET", "/").send(addr).await;
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(
        reply.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(reply.header("x-xss-protection"), Some("0"));
}

#[tokio::test]
async fn csp_with_a_fresh_nonce_per_request_and_report_only() {
    let mut config = SecurityConfig::default();
    config.csp.enable = true;
    let addr = server(config.clone()).await;
    let first = req("GET", "/nonce").send(addr).await;
    let second = req("GET", "/nonce").send(addr).await;
    assert_ne!(first.body, second.body);
    assert_eq!(first.body.len(), 24);
    let policy = first.header("content-security-policy").unwrap();
    assert!(
        policy.contains(&format!("script-src 'self' 'nonce-{}'", first.body)),
        "{policy}"
    );
    assert!(policy.contains("object-src 'none'"), "{policy}");

    config.csp.report_only = true;
    config.csp.nonce = false;
    let addr = server(config).await;
    let reply = req("GET", "/nonce").send(addr).await;
    assert_eq!(reply.body, "");
    assert_eq!(reply.header("content-security-policy"), None);
    let policy = reply.header("content-security-policy-report-only").unwrap();
    assert!(!policy.contains("nonce"), "{policy}");
}

#[tokio::test]
async fn headers_can_be_limited_to_paths() {
    let mut config = SecurityConfig::default();
    config.xframe.ignore = vec!["/embed-area".parse().unwrap(), "/".parse().unwrap()];
    config.hsts.enable = true;
    config.hsts.match_ = vec!["/token".parse().unwrap()];
    let addr = server(config).await;
    let reply = req("GET", "/").send(addr).await;
    assert_eq!(reply.header("x-frame-options"), None);
    assert_eq!(reply.header("strict-transport-security"), None);
    let reply = req("GET", "/token").send(addr).await;
    assert!(reply.header("strict-transport-security").is_some());
}

#[tokio::test]
async fn handlers_override_headers_per_response() {
    let addr = default_server().await;
    let reply = req("GET", "/embed").send(addr).await;
    assert_eq!(reply.header("x-frame-options"), None);
    assert_eq!(reply.header("x-download-options"), Some("noopen"));
    let reply = req("GET", "/deny").send(addr).await;
    assert_eq!(values(&reply, "x-frame-options"), ["DENY"]);
    assert_eq!(values(&reply, "x-content-type-options"), ["nosniff"]);

    // The handler's own values are kept, and not joined by the layer's.
    let mut config = SecurityConfig::default();
    config.csp.enable = true;
    let addr = server(config).await;
    let reply = req("GET", "/own-policy").send(addr).await;
    assert_eq!(
        values(&reply, "content-security-policy"),
        ["default-src 'none'"]
    );
    assert_eq!(values(&reply, "x-xss-protection"), ["0"]);
    assert_eq!(values(&reply, "x-frame-options"), ["SAMEORIGIN"]);
}

/// Every value of header `name` in `reply`.
fn values<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

// ---- methods and paths ----

#[tokio::test]
async fn trace_and_track_are_405() {
    let addr = default_server().await;
    for method in ["TRACE", "TRACK"] {
        let reply = req(method, "/").send(addr).await;
        assert_refused(&reply, 405, "method not allowed");
        assert!(reply.header("allow").is_some());
        assert_eq!(reply.header("x-frame-options"), Some("SAMEORIGIN"));
    }
    let mut config = SecurityConfig::default();
    config.methodnoallow.enable = false;
    let addr = server(config).await;
    assert_eq!(req("TRACE", "/").send(addr).await.status, 200);
}

#[tokio::test]
async fn traversal_is_400_encoded_or_not() {
    let addr = default_server().await;
    for path in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/static/..%2f..%2fetc/passwd",
        "/%252e%252e/etc",
        "/..%5cwindows",
    ] {
        let reply = req("GET", path).send(addr).await;
        assert_refused(&reply, 400, "path outside the root");
    }
    assert_refused(
        &req("GET", "/%zz").send(addr).await,
        400,
        "malformed percent-encoding",
    );
    // Inside the root is fine (404: no such route, but not refused).
    assert_eq!(req("GET", "/a/../token").send(addr).await.status, 404);

    let mut config = SecurityConfig::default();
    config.dta.enable = false;
    let addr = server(config).await;
    assert_eq!(req("GET", "/../x").send(addr).await.status, 404);
}

// ---- redirects ----

async fn location(addr: std::net::SocketAddr, target: &str) -> (u16, Option<String>) {
    let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    let reply = req("GET", &format!("/go?to={encoded}")).send(addr).await;
    (reply.status, reply.header("location").map(str::to_owned))
}

#[tokio::test]
async fn redirects_through_the_white_list() {
    let config = SecurityConfig {
        domain_white_list: vec!["example.com".into(), "bücher.de".into()],
        ..SecurityConfig::default()
    };
    let addr = server(config.clone()).await;
    let to = |l: &str| (303, Some(l.to_owned()));

    assert_eq!(location(addr, "/account?x=1").await, to("/account?x=1"));
    assert_eq!(
        location(addr, "https://www.example.com/a").await,
        to("https://www.example.com/a")
    );
    assert_eq!(
        location(addr, "HTTPS://EXAMPLE.COM/").await,
        to("https://example.com/")
    );
    assert_eq!(
        location(addr, "https://bücher.de/x").await,
        to("https://xn--bcher-kva.de/x")
    );
    assert_eq!(
        location(addr, &format!("http://{addr}/self")).await,
        to(&format!("http://{addr}/self"))
    );
    for root in [
        "//evil.com",
        "\\\\evil.com",
        "/\\evil.com",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        " //evil.com",
    ] {
        assert_eq!(location(addr, root).await, to("/"), "{root:?}");
    }
    // Foreign and look-alike hosts: an error outside prod…
    for foreign in [
        "https://evil.com/",
        "https://еxample.com/",
        "https://example.com.evil.com/",
    ] {
        let (status, location) = location(addr, foreign).await;
        assert_eq!((status, location), (500, None), "{foreign}");
    }
    // …and `/` in prod.
    let prod = serve(
        routes().layer(
            SecurityLayer::from_config(&config)
                .unwrap()
                .with_unsafe_redirects(UnsafeRedirects::ToRoot),
        ),
    )
    .await;
    assert_eq!(location(prod, "https://evil.com/").await, to("/"));
    // The explicit unsafe variant goes anywhere.
    let reply = req("GET", "/go-anyway").send(prod).await;
    assert_eq!(reply.header("location"), Some("https://evil.com/"));
}
