//! The `[security]` section: one struct per piece, each with `enable`, `match` and `ignore`.
//!
//! Defaults are Egg's (`egg-security`'s `config.default.js`), except where a field says
//! otherwise.
//!
//! ```
//! use yolk_security::SecurityConfig;
//!
//! let config: SecurityConfig = toml::from_str(
//!     r#"
//!     domain_white_list = ["example.com"]
//!     [csrf]
//!     type = "any"
//!     ignore = ["/webhooks"]
//!     [hsts]
//!     enable = true
//!     "#,
//! )?;
//! assert!(config.csrf.enable && config.hsts.enable);
//! assert_eq!(config.hsts.max_age, 31_536_000);
//! assert_eq!(config.xframe.value, "SAMEORIGIN");
//! # Ok::<_, toml::de::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yolk_core::middleware::PathPattern;

/// The whole `[security]` section; its default is each piece's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Hosts that safe redirects, `shtml` links and referer checks accept: an entry matches
    /// itself and its subdomains; `*` globs (`*.example.com`). Default: `[]` (only the
    /// request's own host, for redirects).
    pub domain_white_list: Vec<String>,
    /// URL schemes [`surl`](crate::helpers::surl) accepts beyond `http` and `https`.
    /// Default: `[]`.
    pub protocol_white_list: Vec<String>,
    /// CSRF protection. On by default.
    pub csrf: CsrfConfig,
    /// `x-frame-options`. On by default, `SAMEORIGIN`.
    pub xframe: XFrameConfig,
    /// `strict-transport-security`. Off by default.
    pub hsts: HstsConfig,
    /// Directory traversal: a path that normalises outside the root answers 400. On by default.
    pub dta: ToggleConfig,
    /// `TRACE` and `TRACK` answer 405. On by default.
    pub methodnoallow: ToggleConfig,
    /// `x-download-options: noopen`. On by default.
    pub noopen: ToggleConfig,
    /// `x-content-type-options: nosniff`, except on 3xx responses. On by default.
    pub nosniff: ToggleConfig,
    /// `x-xss-protection`. On by default, `1; mode=block`.
    pub xss_protection: XssProtectionConfig,
    /// `referrer-policy`. Off by default.
    pub referrer_policy: ReferrerPolicyConfig,
    /// `content-security-policy` with a per-request nonce. Off by default.
    pub csp: CspConfig,
    /// The SSRF-safe HTTP client's address rules.
    pub ssrf: SsrfConfig,
}

/// Which CSRF checks a request must pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CsrfType {
    /// A token matching the client's secret (Egg's default).
    #[default]
    Ctoken,
    /// A `Referer` (or `Origin`) whose host is the request's own or in `referer_white_list`.
    Referer,
    /// Both checks.
    All,
    /// Either check.
    Any,
    /// No token: the request passes when `Sec-Fetch-Site` is `same-origin` or `none`, or,
    /// from a client that does not send `Sec-Fetch-Site`, when `Origin` (else `Referer`) is
    /// the request's own origin or a host in `referer_white_list`.
    Origin,
}

impl CsrfType {
    pub(crate) fn uses_token(self) -> bool {
        matches!(self, Self::Ctoken | Self::All | Self::Any)
    }

    pub(crate) fn uses_referer(self) -> bool {
        matches!(self, Self::Referer | Self::All | Self::Any)
    }
}

/// `[security.csrf]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfConfig {
    /// Check requests. Default: `true`.
    pub enable: bool,
    /// `ctoken`, `referer`, `all`, `any` or `origin`. Default: `ctoken`.
    #[serde(rename = "type")]
    pub kind: CsrfType,
    /// Skip requests whose `content-type` is JSON (only safe when CORS forbids them).
    /// Default: `false`.
    pub ignore_json: bool,
    /// Keep the secret in the session instead of a cookie: needs the session plugin (or, in
    /// plain axum, [`SecurityLayer::with_session`](crate::SecurityLayer::with_session)).
    /// Default: `false`.
    pub use_session: bool,
    /// Cookie holding the secret, readable by scripts. Default: `csrfToken`.
    pub cookie_name: String,
    /// The cookie's `Domain`. Default: none (the request's host).
    pub cookie_domain: Option<String>,
    /// Session key holding the secret with `use_session`. Default: `csrfToken`.
    pub session_name: String,
    /// Request header carrying the token. Default: `x-csrf-token`.
    pub header_name: String,
    /// Form field (urlencoded or multipart) carrying the token. Default: `_csrf`.
    pub body_name: String,
    /// Query parameter carrying the token. Default: `_csrf`.
    pub query_name: String,
    /// Methods that are checked. Default: `["POST", "PUT", "PATCH", "DELETE"]`.
    pub methods: Vec<String>,
    /// Hosts accepted in `Referer` / `Origin` besides the request's own (same matching as
    /// `domain_white_list`). Default: `[]`.
    pub referer_white_list: Vec<String>,
    /// Issue a new secret when a request carries an invalid token. Default: `false`.
    pub rotate_when_invalid: bool,
    /// Bytes of a form body read while looking for the token field; a larger body without
    /// the token in the header or query answers 413. Default: `1048576` (1 MiB).
    pub body_limit: usize,
    /// Only check these paths (prefix, glob or `^regex`). Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Never check these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            enable: true,
            kind: CsrfType::Ctoken,
            ignore_json: false,
            use_session: false,
            cookie_name: "csrfToken".into(),
            cookie_domain: None,
            session_name: "csrfToken".into(),
            header_name: "x-csrf-token".into(),
            body_name: "_csrf".into(),
            query_name: "_csrf".into(),
            methods: ["POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            referer_white_list: Vec::new(),
            rotate_when_invalid: false,
            body_limit: 1024 * 1024,
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// A piece that is only switched and scoped: `dta`, `methodnoallow`, `noopen`, `nosniff`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToggleConfig {
    /// On or off. Default: `true`.
    pub enable: bool,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for ToggleConfig {
    fn default() -> Self {
        Self {
            enable: true,
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.xframe]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XFrameConfig {
    /// On or off. Default: `true`.
    pub enable: bool,
    /// `SAMEORIGIN` or `DENY`. Default: `SAMEORIGIN`.
    pub value: String,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for XFrameConfig {
    fn default() -> Self {
        Self {
            enable: true,
            value: "SAMEORIGIN".into(),
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.xss_protection]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XssProtectionConfig {
    /// On or off. Default: `true`.
    pub enable: bool,
    /// The header's value. Default: `1; mode=block`.
    pub value: String,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for XssProtectionConfig {
    fn default() -> Self {
        Self {
            enable: true,
            value: "1; mode=block".into(),
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.referrer_policy]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferrerPolicyConfig {
    /// On or off. Default: `false`.
    pub enable: bool,
    /// One of the policy tokens (`no-referrer`, `same-origin`,
    /// `strict-origin-when-cross-origin`, …), or a comma-separated fallback list; checked at
    /// start-up. Default: `no-referrer-when-downgrade`.
    pub value: String,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for ReferrerPolicyConfig {
    fn default() -> Self {
        Self {
            enable: false,
            value: "no-referrer-when-downgrade".into(),
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.hsts]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HstsConfig {
    /// On or off. Default: `false`.
    pub enable: bool,
    /// `max-age`, in seconds. Default: `31536000` (one year).
    pub max_age: u64,
    /// Add `includeSubDomains`. Default: `false`.
    pub include_subdomains: bool,
    /// Add `preload`. Default: `false`.
    pub preload: bool,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for HstsConfig {
    fn default() -> Self {
        Self {
            enable: false,
            max_age: 365 * 24 * 3600,
            include_subdomains: false,
            preload: false,
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.csp]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CspConfig {
    /// On or off. Default: `false`.
    pub enable: bool,
    /// Send `content-security-policy-report-only` instead. Default: `false`.
    pub report_only: bool,
    /// Add a fresh `'nonce-…'` to `script-src` on every request (read it with
    /// [`CspNonce`](crate::CspNonce)). Default: `true`.
    pub nonce: bool,
    /// Directive → sources. Default (Egg's is empty, which sends nothing useful):
    /// `default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'`.
    pub policy: BTreeMap<String, Vec<String>>,
    /// Only these paths. Default: `[]` (all).
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Not these paths. Default: `[]`.
    pub ignore: Vec<PathPattern>,
}

impl Default for CspConfig {
    fn default() -> Self {
        let policy = [
            ("default-src", "'self'"),
            ("script-src", "'self'"),
            ("object-src", "'none'"),
            ("base-uri", "'self'"),
        ]
        .into_iter()
        .map(|(name, source)| (name.to_owned(), vec![source.to_owned()]))
        .collect();
        Self {
            enable: false,
            report_only: false,
            nonce: true,
            policy,
            match_: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

/// `[security.ssrf]`: what [`SafeClient`](crate::SafeClient) refuses to connect to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsrfConfig {
    /// Ranges refused besides loopback, private, link-local, unspecified, shared (CGNAT),
    /// unique-local and multicast ones: CIDRs (`203.0.113.0/24`) or addresses. Default: `[]`.
    pub ip_black_list: Vec<String>,
    /// Allowed even if refused above: CIDRs, addresses, or `address:port` for one socket.
    /// Default: `[]`.
    pub ip_exception_list: Vec<String>,
    /// Hosts connected to without any address check (exact, case-insensitive). Default: `[]`.
    pub hostname_exception_list: Vec<String>,
}
