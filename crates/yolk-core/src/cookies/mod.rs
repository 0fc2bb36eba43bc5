//! Cookies: plain, signed (Egg's `name.sig` format) and encrypted, through one extractor.
//!
//! [`CookieLayer`] gives each request a lazy jar; the [`Cookies`] extractor reads the request's
//! cookies from it and queues `Set-Cookie` headers, written with [`CookieOptions`]. Signing and
//! encryption use the application's [`Keys`](crate::keys::Keys), newest first, so keys rotate
//! without logging anyone out.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, header};
//! use tower::ServiceExt;
//! use yolk_core::cookies::{CookieLayer, CookieOptions, Cookies};
//! use yolk_core::keys::Keys;
//!
//! async fn login(cookies: Cookies) -> &'static str {
//!     let options = CookieOptions::new().with_encrypted(true);
//!     cookies.set("session", "user 42", &options).unwrap();
//!     "welcome"
//! }
//!
//! async fn whoami(cookies: Cookies) -> String {
//!     cookies.get_encrypted("session").unwrap_or_default()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/login", get(login))
//!     .route("/whoami", get(whoami))
//!     .layer(CookieLayer::new(Keys::parse("a-long-random-secret").unwrap()));
//!
//! let req = Request::get("/login").body(Body::empty()).unwrap();
//! let res = app.clone().oneshot(req).await.unwrap();
//! let set_cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
//! let session = set_cookie.split(';').next().unwrap().to_owned();
//!
//! let req = Request::get("/whoami")
//!     .header(header::COOKIE, session)
//!     .body(Body::empty())
//!     .unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
//! assert_eq!(body, "user 42");
//! # }
//! ```

mod error;
mod extract;
mod jar;
mod layer;
mod options;

pub use error::CookieError;
pub use extract::CookiesRejection;
pub use jar::Cookies;
pub use layer::{CookieLayer, CookieService, ResponseFuture};
pub use options::{CookieOptions, SameSite};
