//! `SafeClient` against loopback servers: refused unless excepted, on every redirect hop.

mod common;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use common::serve;
use http_body_util::BodyExt;
use yolk_security::{SafeClient, SecurityError, SsrfPolicy};

fn hello() -> Router {
    Router::new().route("/", get(|| async { "inside" }))
}

fn assert_forbidden(error: SecurityError, reason: &str) {
    match &error {
        SecurityError::ForbiddenAddress { reason: r, .. } => assert_eq!(*r, reason, "{error}"),
        other => panic!("expected a refused address, got {other}"),
    }
    assert!(error.to_string().contains("ip_exception_list"), "{error}");
}

#[tokio::test]
async fn refuses_a_listening_loopback_server() {
    let addr = serve(hello()).await;
    let client = SafeClient::new(SsrfPolicy::new());
    let error = client.get(&format!("http://{addr}/")).await.unwrap_err();
    assert_forbidden(error, "loopback");
}

#[tokio::test]
async fn refuses_private_ipv6_loopback_and_link_local_literals() {
    let client = SafeClient::new(SsrfPolicy::new());
    for (url, reason) in [
        ("http://10.0.0.1/", "private"),
        ("http://10.255.1.2:8080/", "private"),
        ("http://[::1]:9/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
    ] {
        assert_forbidden(client.get(url).await.unwrap_err(), reason);
    }
}

#[tokio::test]
async fn refuses_a_hostname_resolving_to_a_private_address() {
    let addr = serve(hello()).await;
    let client = SafeClient::new(SsrfPolicy::new());
    let error = client
        .get(&format!("http://localhost:{}/", addr.port()))
        .await
        .unwrap_err();
    assert_forbidden(error, "loopback");
}

#[tokio::test]
async fn black_list_refuses_public_ranges_too() {
    let policy = SsrfPolicy::new()
        .with_black_list(["93.184.216.0/24"])
        .unwrap();
    let client = SafeClient::new(policy);
    assert_forbidden(
        client.get("http://93.184.216.34/").await.unwrap_err(),
        "black-listed",
    );
}

#[tokio::test]
async fn exceptions_let_one_server_through() {
    let addr = serve(hello()).await;
    let client = SafeClient::new(
        SsrfPolicy::new()
            .with_exceptions([addr.to_string()])
            .unwrap(),
    );
    let response = client.get(&format!("http://{addr}/")).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "inside");

    let by_name = SsrfPolicy::new().with_hostname_exceptions(["LOCALHOST"]);
    let response = SafeClient::new(by_name)
        .get(&format!("http://localhost:{}/", addr.port()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_redirect_chain_into_a_private_address_is_refused_at_the_hop() {
    let inside = serve(hello()).await;
    let target = format!("http://{inside}/");
    let outside = serve(Router::new().route(
        "/",
        get(move || {
            let target = target.clone();
            async move { Redirect::temporary(&target) }
        }),
    ))
    .await;
    // Only the "public" starting server is allowed.
    let client = SafeClient::new(
        SsrfPolicy::new()
            .with_exceptions([outside.to_string()])
            .unwrap(),
    );
    let error = client.get(&format!("http://{outside}/")).await.unwrap_err();
    match error {
        SecurityError::ForbiddenAddress { addr, reason, .. } => {
            assert_eq!((addr, reason), (inside, "loopback"));
        }
        other => panic!("expected a refused hop, got {other}"),
    }

    // With both allowed, the chain is followed to the end.
    let client = SafeClient::new(
        SsrfPolicy::new()
            .with_exceptions([outside.to_string(), inside.to_string()])
            .unwrap(),
    );
    let response = client.get(&format!("http://{outside}/")).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "inside");
}

#[tokio::test]
async fn endless_redirects_stop() {
    let addr = serve(Router::new().route("/", get(|| async { Redirect::temporary("/") }))).await;
    let client = SafeClient::new(
        SsrfPolicy::new()
            .with_exceptions([addr.to_string()])
            .unwrap(),
    )
    .with_max_redirects(3);
    let error = client.get(&format!("http://{addr}/")).await.unwrap_err();
    assert!(
        matches!(error, SecurityError::TooManyRedirects { limit: 3, .. }),
        "{error}"
    );
}
