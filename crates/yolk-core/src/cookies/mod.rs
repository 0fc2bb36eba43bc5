//! Cookies: plain, signed (Egg's `name.sig` format) and encrypted, through one extractor.
//!
//! (Stub: being written.)

use crate::Keys;

/// Installs the per-request cookie jar.
#[derive(Clone, Debug)]
pub struct CookieLayer {
    #[allow(dead_code)]
    keys: Keys,
}

impl CookieLayer {
    /// A layer signing and encrypting with `keys`.
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }
}

/// Options of a cookie.
#[derive(Clone, Debug, Default)]
pub struct CookieOptions {}

/// The request's cookie jar.
#[derive(Clone, Debug)]
pub struct Cookies {}

impl<S> tower_layer::Layer<S> for CookieLayer {
    type Service = S;

    fn layer(&self, inner: S) -> S {
        inner
    }
}
