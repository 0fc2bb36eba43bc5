//! [`CookieOptions`]: how a cookie is written (attributes) and read (signed, encrypted).

use std::time::{Duration, SystemTime};

/// The `SameSite` attribute of a cookie.
///
/// ```
/// use yolk_core::cookies::{CookieOptions, SameSite};
///
/// let options = CookieOptions::new().with_same_site(SameSite::Strict);
/// assert_eq!(options.same_site(), Some(SameSite::Strict));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Strict`: never sent on cross-site requests.
    Strict,
    /// `SameSite=Lax`: sent on top-level cross-site navigations only.
    Lax,
    /// `SameSite=None`: sent on every request. Browsers require `Secure` with it, so the cookie
    /// is written with `Secure` even when [`CookieOptions::with_secure`] was not called.
    None,
}

impl From<SameSite> for cookie::SameSite {
    fn from(same_site: SameSite) -> Self {
        match same_site {
            SameSite::Strict => Self::Strict,
            SameSite::Lax => Self::Lax,
            SameSite::None => Self::None,
        }
    }
}

/// Options of a cookie, as in Egg's `ctx.cookies.set(name, value, options)`.
///
/// Built by chaining `with_*` methods on [`CookieOptions::new`] (or `default()`); each method
/// states its default. The same options drive reading: [`Cookies::get_with`] honours
/// [`with_signed`](Self::with_signed) and [`with_encrypted`](Self::with_encrypted).
///
/// ```
/// use std::time::Duration;
/// use yolk_core::cookies::{CookieOptions, SameSite};
///
/// let options = CookieOptions::new()
///     .with_signed(true)
///     .with_max_age(Duration::from_secs(3600))
///     .with_same_site(SameSite::Lax);
/// assert_eq!(options.path(), "/");
/// assert!(options.http_only());
/// assert!(options.signed());
/// ```
///
/// [`Cookies::get_with`]: crate::cookies::Cookies::get_with
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieOptions {
    path: String,
    domain: Option<String>,
    http_only: bool,
    secure: bool,
    same_site: Option<SameSite>,
    max_age: Option<Duration>,
    expires: Option<SystemTime>,
    overwrite: bool,
    signed: bool,
    encrypted: bool,
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            secure: false,
            same_site: None,
            max_age: None,
            expires: None,
            overwrite: false,
            signed: false,
            encrypted: false,
        }
    }
}

impl CookieOptions {
    /// The defaults: `Path=/`, `HttpOnly`, no domain, not secure, no `SameSite`, a session
    /// cookie (no `Max-Age` nor `Expires`), not overwriting, plain (neither signed nor
    /// encrypted).
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert_eq!(CookieOptions::new(), CookieOptions::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `Path` attribute. Default: `/`.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert_eq!(CookieOptions::new().with_path("/admin").path(), "/admin");
    /// ```
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `Domain` attribute. Default: none, so the cookie is sent to this host only.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// let options = CookieOptions::new().with_domain("example.com");
    /// assert_eq!(options.domain(), Some("example.com"));
    /// ```
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets the `HttpOnly` attribute, which hides the cookie from scripts. Default: `true`.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert!(!CookieOptions::new().with_http_only(false).http_only());
    /// ```
    #[must_use]
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets the `Secure` attribute, which restricts the cookie to HTTPS. Default: `false`
    /// (unlike Egg, yolk does not guess it from the request's scheme).
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert!(CookieOptions::new().with_secure(true).secure());
    /// ```
    #[must_use]
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets the `SameSite` attribute. Default: none written (browsers then treat it as `Lax`).
    ///
    /// ```
    /// use yolk_core::cookies::{CookieOptions, SameSite};
    ///
    /// let options = CookieOptions::new().with_same_site(SameSite::Lax);
    /// assert_eq!(options.same_site(), Some(SameSite::Lax));
    /// ```
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// Sets `Max-Age`, written in whole seconds. Default: none (a session cookie).
    ///
    /// ```
    /// use std::time::Duration;
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// let options = CookieOptions::new().with_max_age(Duration::from_secs(60));
    /// assert_eq!(options.max_age(), Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets `Expires`, written to the second and clamped to years 1970 to 9999. Default: none
    /// (a session cookie). When both are set, browsers use `Max-Age`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    /// assert_eq!(CookieOptions::new().with_expires(at).expires(), Some(at));
    /// ```
    #[must_use]
    pub fn with_expires(mut self, expires: SystemTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// When `true`, writing this cookie replaces every `Set-Cookie` of the same name that this
    /// jar already queued in the current response (Egg's `overwrite`); when `false`, both are
    /// sent and the browser applies them in order. Default: `false`.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert!(CookieOptions::new().with_overwrite(true).overwrite());
    /// ```
    #[must_use]
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Signs the cookie: a `name.sig` cookie carrying Egg's signature of `name=value` is written
    /// next to it, and reading it checks that signature. Default: `false`.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert!(CookieOptions::new().with_signed(true).signed());
    /// ```
    #[must_use]
    pub fn with_signed(mut self, signed: bool) -> Self {
        self.signed = signed;
        self
    }

    /// Encrypts the cookie's value with the first key (AES-256-GCM, which also authenticates
    /// it, so an encrypted cookie is never also signed: [`with_signed`](Self::with_signed) is
    /// then ignored). Default: `false`.
    ///
    /// ```
    /// use yolk_core::cookies::CookieOptions;
    ///
    /// assert!(CookieOptions::new().with_encrypted(true).encrypted());
    /// ```
    #[must_use]
    pub fn with_encrypted(mut self, encrypted: bool) -> Self {
        self.encrypted = encrypted;
        self
    }

    /// The `Path` attribute.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert_eq!(CookieOptions::new().path(), "/");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Domain` attribute, if any.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert_eq!(CookieOptions::new().domain(), None);
    /// ```
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether `HttpOnly` is written.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert!(CookieOptions::new().http_only());
    /// ```
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// Whether `Secure` is written.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert!(!CookieOptions::new().secure());
    /// ```
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The `SameSite` attribute, if any.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert_eq!(CookieOptions::new().same_site(), None);
    /// ```
    pub fn same_site(&self) -> Option<SameSite> {
        self.same_site
    }

    /// `Max-Age`, if any.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert_eq!(CookieOptions::new().max_age(), None);
    /// ```
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// `Expires`, if any.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert_eq!(CookieOptions::new().expires(), None);
    /// ```
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// Whether earlier `Set-Cookie`s of the same name are replaced.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert!(!CookieOptions::new().overwrite());
    /// ```
    pub fn overwrite(&self) -> bool {
        self.overwrite
    }

    /// Whether the cookie is signed.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert!(!CookieOptions::new().signed());
    /// ```
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// Whether the cookie is encrypted.
    ///
    /// ```
    /// # use yolk_core::cookies::CookieOptions;
    /// assert!(!CookieOptions::new().encrypted());
    /// ```
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }
}
