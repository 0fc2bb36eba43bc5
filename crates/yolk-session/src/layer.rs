//! [`SessionLayer`]: the builder a plain axum app and the plugin both use.

use std::sync::Arc;

use tower_layer::Layer;
use yolk_core::Keys;

use crate::config::{MaxAge, SameSite, SessionConfig};
use crate::service::SessionService;
use crate::session::Shared;
use crate::store::Store;

/// Gives each request a lazily loaded [`Session`](crate::Session) and saves it when the
/// response goes out.
///
/// Two kinds of storage:
///
/// - [`SessionLayer::new`]`(keys)`: the session lives in the cookie itself, encrypted with
///   the app's keys (the first encrypts; every key decrypts, and a cookie opened with an older
///   key is re-sealed with the first on its next save). No server-side state.
/// - [`SessionLayer::with_store`]`(store)`: the session lives in a [`Store`]; the cookie holds
///   only an unguessable id.
///
/// The layer writes its `Set-Cookie` header itself (it does not need `CookieLayer`). Each
/// `with_*` method states its default, which is Egg's.
///
/// ```
/// use std::time::Duration;
/// use yolk_core::Keys;
/// use yolk_session::{MaxAge, MemoryStore, SessionLayer};
///
/// let in_cookie = SessionLayer::new(Keys::parse("a-long-random-secret").unwrap())
///     .with_cookie_name("sid")
///     .with_max_age(MaxAge::Duration(Duration::from_secs(3600)))
///     .with_renew(true);
/// assert_eq!(in_cookie.cookie_name(), "sid");
/// let in_memory = SessionLayer::with_store(MemoryStore::new()).with_rolling(true);
/// # let _ = in_memory;
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// Sessions kept in an encrypted cookie, sealed with `keys` (newest first). Without keys,
    /// saving a session fails with [`SessionError::NoKeys`](crate::SessionError::NoKeys).
    ///
    /// ```
    /// use yolk_core::Keys;
    /// let layer = yolk_session::SessionLayer::new(Keys::parse("new,old").unwrap());
    /// assert_eq!(layer.cookie_name(), "YOLK_SESS");
    /// ```
    pub fn new(keys: Keys) -> Self {
        Self::build(keys, None)
    }

    /// Sessions kept in `store`; the cookie holds the session's id.
    ///
    /// ```
    /// let layer = yolk_session::SessionLayer::with_store(yolk_session::MemoryStore::new());
    /// assert_eq!(layer.cookie_name(), "YOLK_SESS");
    /// ```
    pub fn with_store(store: impl Store) -> Self {
        Self::build(Keys::default(), Some(Arc::new(store)))
    }

    fn build(keys: Keys, store: Option<Arc<dyn Store>>) -> Self {
        let config = SessionConfig::default();
        Self {
            shared: Arc::new(Shared {
                name: config.key,
                keys,
                store,
                max_age: config.max_age,
                http_only: config.http_only,
                secure: config.secure,
                same_site: config.same_site,
                path: config.path,
                domain: config.domain,
                renew: config.renew,
                rolling: config.rolling,
            }),
        }
    }

    fn set(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Takes every setting from `config` (the plugin's `[session]` section).
    ///
    /// ```
    /// use yolk_core::Keys;
    /// use yolk_session::{SessionConfig, SessionLayer};
    ///
    /// let config = SessionConfig { key: "sid".into(), ..SessionConfig::default() };
    /// let layer = SessionLayer::new(Keys::parse("k").unwrap()).with_config(&config);
    /// assert_eq!(layer.cookie_name(), "sid");
    /// ```
    #[must_use]
    pub fn with_config(self, config: &SessionConfig) -> Self {
        self.set(|shared| {
            shared.name.clone_from(&config.key);
            shared.max_age = config.max_age;
            shared.http_only = config.http_only;
            shared.secure = config.secure;
            shared.same_site = config.same_site;
            shared.path.clone_from(&config.path);
            shared.domain.clone_from(&config.domain);
            shared.renew = config.renew;
            shared.rolling = config.rolling;
        })
    }

    /// The cookie's name. Default: `YOLK_SESS`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// assert_eq!(layer.with_cookie_name("sid").cookie_name(), "sid");
    /// ```
    #[must_use]
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.set(|shared| shared.name = name)
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.shared.name
    }

    /// How long sessions live; [`MaxAge::Session`] for a browser-session cookie. Default:
    /// 24 hours. A handler may change it for one session with
    /// [`Session::set_max_age`](crate::Session::set_max_age).
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_max_age(yolk_session::MaxAge::Session);
    /// ```
    #[must_use]
    pub fn with_max_age(self, max_age: MaxAge) -> Self {
        self.set(|shared| shared.max_age = max_age)
    }

    /// Hide the cookie from JavaScript. Default: `true`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_http_only(true);
    /// ```
    #[must_use]
    pub fn with_http_only(self, http_only: bool) -> Self {
        self.set(|shared| shared.http_only = http_only)
    }

    /// Send the cookie over HTTPS only. Default: `false`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_secure(true);
    /// ```
    #[must_use]
    pub fn with_secure(self, secure: bool) -> Self {
        self.set(|shared| shared.secure = secure)
    }

    /// The cookie's `SameSite`. Default: [`SameSite::Lax`].
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_same_site(yolk_session::SameSite::Strict);
    /// ```
    #[must_use]
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.set(|shared| shared.same_site = same_site)
    }

    /// The cookie's path. Default: `/`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_path("/app");
    /// ```
    #[must_use]
    pub fn with_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.set(|shared| shared.path = path)
    }

    /// The cookie's domain. Default: none (the host that set it).
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_domain("example.com");
    /// ```
    #[must_use]
    pub fn with_domain(self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        self.set(|shared| shared.domain = Some(domain))
    }

    /// Save the session again when a request carries it and less than half its max age is
    /// left. Default: `false`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_renew(true);
    /// ```
    #[must_use]
    pub fn with_renew(self, renew: bool) -> Self {
        self.set(|shared| shared.renew = renew)
    }

    /// Save the session again on every request that carries it. Default: `false`.
    ///
    /// ```
    /// # let layer = yolk_session::SessionLayer::new(yolk_core::Keys::default());
    /// let layer = layer.with_rolling(true);
    /// ```
    #[must_use]
    pub fn with_rolling(self, rolling: bool) -> Self {
        self.set(|shared| shared.rolling = rolling)
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, Arc::clone(&self.shared))
    }
}
