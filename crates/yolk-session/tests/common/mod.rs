//! Routes and a tiny client shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use yolk_session::{MaxAge, Session, SessionError, SessionLayer};

type Params = Query<HashMap<String, String>>;

/// Routes exercising every session operation.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/get",
            get(|session: Session| async move {
                session
                    .get::<String>("user")
                    .unwrap()
                    .unwrap_or_else(|| "none".into())
            }),
        )
        .route(
            "/set",
            get(|session: Session, Query(q): Params| async move {
                session.insert("user", q.get("v").cloned().unwrap_or_default())?;
                Ok::<_, SessionError>("set")
            }),
        )
        .route("/untouched", get(|| async { "untouched" }))
        .route(
            "/destroy",
            get(|session: Session| async move {
                session.destroy();
                "destroyed"
            }),
        )
        .route(
            "/clear",
            get(|session: Session| async move {
                session.clear();
                "cleared"
            }),
        )
        .route(
            "/regenerate",
            get(|session: Session| async move {
                session.regenerate();
                "regenerated"
            }),
        )
        .route(
            "/max_age",
            get(|session: Session, Query(q): Params| async move {
                let max_age = match q.get("ms").map(String::as_str) {
                    Some("session") | None => MaxAge::Session,
                    Some(ms) => MaxAge::Duration(Duration::from_millis(ms.parse().unwrap())),
                };
                session.set_max_age(max_age);
                "max age set"
            }),
        )
        .route(
            "/fail",
            get(|session: Session| async move {
                session.insert("user", "failing").unwrap();
                Err::<(), _>((StatusCode::BAD_REQUEST, "bad request"))
            }),
        )
        .route(
            "/big",
            get(|session: Session| async move {
                match session.insert("blob", "x".repeat(5000)) {
                    Ok(()) => (StatusCode::OK, "stored".to_owned()),
                    Err(error) => (error.status(), error.to_string()),
                }
            }),
        )
        .route(
            "/id",
            get(|session: Session| async move { session.id().unwrap_or_else(|| "none".into()) }),
        )
}

/// What a test sees of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub set_cookie: Option<String>,
    pub content_type: Option<String>,
}

impl Reply {
    /// `name=value` of the Set-Cookie.
    pub fn pair(&self) -> Option<&str> {
        self.set_cookie.as_deref().and_then(|c| c.split(';').next())
    }

    pub fn expires_cookie(&self) -> bool {
        self.set_cookie
            .as_deref()
            .is_some_and(|c| c.contains("Max-Age=0"))
    }
}

/// A client with one session cookie, as a browser keeps it.
#[derive(Debug, Clone)]
pub struct Client {
    pub app: Router,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(layer: SessionLayer) -> Self {
        Self {
            app: routes::<()>().layer(layer),
            cookie: None,
        }
    }

    pub async fn send_with(&self, path: &str, cookie: Option<&str>, accept: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let mut cookies = response.headers().get_all(header::SET_COOKIE).iter();
        let set_cookie = cookies.next().map(|v| v.to_str().unwrap().to_owned());
        assert!(cookies.next().is_none(), "two Set-Cookie headers");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            body: String::from_utf8(body.to_vec()).unwrap(),
            set_cookie,
            content_type,
        }
    }

    /// Sends `path` with the current cookie and keeps what the response sets.
    pub async fn get(&mut self, path: &str) -> Reply {
        let reply = self
            .send_with(path, self.cookie.clone().as_deref(), None)
            .await;
        if let Some(pair) = reply.pair() {
            if reply.expires_cookie() {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
        reply
    }
}

/// The Set-Cookie rules, run against every store.
pub async fn set_cookie_rules(layer: SessionLayer) {
    let mut c = Client::new(layer);

    // Untouched: no Set-Cookie. New and empty (touched, read only): none either.
    assert_eq!(c.get("/untouched").await.set_cookie, None);
    let reply = c.get("/get").await;
    assert_eq!((reply.body.as_str(), reply.set_cookie), ("none", None));
    // Regenerating a new, empty session saves nothing.
    assert_eq!(c.get("/regenerate").await.set_cookie, None);

    // A change: Set-Cookie with Egg's attributes.
    let reply = c.get("/set?v=ada").await;
    let set = reply.set_cookie.clone().expect("a change sets the cookie");
    assert!(set.starts_with("YOLK_SESS="), "{set}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=86400",
        "Expires=",
    ] {
        assert!(set.contains(attribute), "{attribute} missing in {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    assert_eq!(c.get("/get").await.body, "ada");

    // Read, or written with the same content: no Set-Cookie.
    assert_eq!(c.get("/get").await.set_cookie, None);
    assert_eq!(c.get("/set?v=ada").await.set_cookie, None);
    assert_eq!(c.get("/untouched").await.set_cookie, None);

    // A different value: Set-Cookie.
    assert!(c.get("/set?v=grace").await.set_cookie.is_some());
    assert_eq!(c.get("/get").await.body, "grace");

    // A max-age change: Set-Cookie, browser-session without Max-Age, and it persists.
    let reply = c.get("/max_age?ms=session").await;
    let set = reply
        .set_cookie
        .clone()
        .expect("a max-age change sets the cookie");
    assert!(
        !set.contains("Max-Age") && !set.contains("Expires"),
        "{set}"
    );
    assert_eq!(c.get("/get").await.body, "grace");
    assert!(
        c.get("/set?v=x")
            .await
            .set_cookie
            .unwrap()
            .find("Max-Age")
            .is_none()
    );
    let set = c.get("/max_age?ms=1500").await.set_cookie.unwrap();
    assert!(set.contains("Max-Age=2"), "rounded up: {set}");

    // Regenerate: Set-Cookie with the same data.
    let before = c.cookie.clone();
    let reply = c.get("/regenerate").await;
    assert!(reply.set_cookie.is_some());
    assert_ne!(c.cookie, before);
    assert_eq!(c.get("/get").await.body, "x");

    // The handler fails after writing: committed all the same.
    let reply = c.get("/fail").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.set_cookie.is_some());
    assert_eq!(c.get("/get").await.body, "failing");

    // Destroy: an expiring cookie; the old cookie no longer loads anything.
    let old = c.cookie.clone();
    let reply = c.get("/destroy").await;
    assert!(reply.expires_cookie(), "{:?}", reply.set_cookie);
    assert_eq!(c.cookie, None);
    assert_eq!(c.get("/get").await.body, "none");
    if reply.set_cookie.is_some() {
        // With a store, replaying the old id finds nothing.
        let replay = c.send_with("/get", old.as_deref(), None).await;
        if !is_cookie_store(old.as_deref()) {
            assert_eq!(replay.body, "none");
        }
    }

    // Clear empties the session: an expiring cookie.
    c.get("/set?v=y").await;
    let reply = c.get("/clear").await;
    assert!(reply.expires_cookie());
    assert_eq!(c.get("/get").await.body, "none");
}

/// A store id is 43 characters; a sealed cookie is longer.
pub fn is_cookie_store(cookie: Option<&str>) -> bool {
    cookie.is_some_and(|c| c.len() > "YOLK_SESS=".len() + 43)
}

/// With a store: regenerate gives a new id, and the old id no longer loads.
pub async fn regenerate_drops_old_id(layer: SessionLayer) {
    let mut c = Client::new(layer);
    c.get("/set?v=ada").await;
    let old_cookie = c.cookie.clone().unwrap();
    let old_id = c.get("/id").await.body;
    assert_eq!(old_id.len(), 43);
    c.get("/regenerate").await;
    let new_id = c.get("/id").await.body;
    assert_ne!(new_id, old_id);
    assert_eq!(c.get("/get").await.body, "ada");
    let replay = c.send_with("/get", Some(&old_cookie), None).await;
    assert_eq!(replay.body, "none", "the old id still loads");
    // An id the client made up is never adopted (fixation).
    let planted = format!("YOLK_SESS={}", "A".repeat(43));
    let reply = Client::new_like(&c)
        .send_with("/set?v=eve", Some(&planted), None)
        .await;
    assert!(!reply.pair().unwrap().ends_with(&"A".repeat(43)));
}

impl Client {
    pub fn new_like(other: &Self) -> Self {
        Self {
            app: other.app.clone(),
            cookie: None,
        }
    }
}
