//! [`SecurityError`]: every way this crate's fallible functions fail.

use std::net::SocketAddr;

/// Why a security setting, a redirect target or an outgoing request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A setting that cannot be used; `key` is its path under `[security]`.
    #[error("security.{key}: {problem}")]
    Config {
        /// The key under `[security]`, dotted (`referrer_policy.value`).
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// `csrf.use_session = true` in a yolk app without the session plugin.
    #[error(
        "security.csrf.use_session = true keeps the CSRF secret in the session, but the session \
         plugin is not enabled: add it (`App::builder().plugin(yolk_session::SessionPlugin::default())`), \
         or set security.csrf.use_session = false to keep the secret in the `csrfToken` cookie"
    )]
    NoSession,
    /// The SSRF-safe client refused an address: loopback, private, link-local, or listed in
    /// `ssrf.ip_black_list`.
    #[error(
        "refused to connect to {addr} (for host `{host}`): {reason} address; \
         allow it with security.ssrf.ip_exception_list if this request is meant to reach it"
    )]
    ForbiddenAddress {
        /// The host in the URL.
        host: String,
        /// The address refused.
        addr: SocketAddr,
        /// Which range it is in: `loopback`, `private`, `link-local`, `black-listed`, …
        reason: &'static str,
    },
    /// A URL the client cannot request (no host, unsupported scheme, bad redirect location).
    #[error("cannot request `{url}`: {problem}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The host did not resolve, or no address accepted the connection.
    #[error("cannot connect to `{host}`: {source}")]
    Connect {
        /// The host.
        host: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client failed for another reason (protocol error, connection closed).
    #[error("request to `{url}` failed: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// More redirects than the client follows.
    #[error("more than {limit} redirects, the last to `{url}`")]
    TooManyRedirects {
        /// The limit.
        limit: usize,
        /// The last location.
        url: String,
    },
}

impl SecurityError {
    pub(crate) fn config(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// True when the SSRF-safe client refused an address.
    ///
    /// ```
    /// use yolk_security::SecurityError;
    ///
    /// let error = SecurityError::ForbiddenAddress {
    ///     host: "localhost".into(),
    ///     addr: "127.0.0.1:80".parse().unwrap(),
    ///     reason: "loopback",
    /// };
    /// assert!(error.is_forbidden_address());
    /// ```
    pub fn is_forbidden_address(&self) -> bool {
        matches!(self, Self::ForbiddenAddress { .. })
    }
}
