//! Safe redirects: relative paths and white-listed hosts pass; everything else goes to `/`
//! or is an error, as configured.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::domain::DomainList;

/// What a redirect to a host outside the white list does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeRedirects {
    /// Refuse with [`UnsafeRedirect`] (a 500 naming the target and the fix): what the plugin
    /// does outside `prod`, and the default of [`RedirectPolicy::new`].
    #[default]
    Error,
    /// Send the client to `/` instead: what the plugin does in `prod`.
    ToRoot,
}

/// Decides where a redirect may go.
///
/// - A path (`/next`, `next`) passes.
/// - `//evil.com`, `/\evil.com`, and schemes other than `http`/`https` (`javascript:`, in any
///   case, with hidden tabs or spaces) become `/`.
/// - An absolute `http(s)` URL passes when its host is the request's own or in
///   `domain_white_list` (an entry matches itself and its subdomains; `*` globs; IDN hosts are
///   compared in punycode); otherwise see [`UnsafeRedirects`].
///
/// ```
/// use yolk_security::{DomainList, RedirectPolicy, UnsafeRedirects};
///
/// let policy = RedirectPolicy::new(DomainList::new(["example.com"]));
/// assert_eq!(policy.check("/account", None)?, "/account");
/// assert_eq!(policy.check("https://shop.example.com/a", None)?, "https://shop.example.com/a");
/// assert_eq!(policy.check("//evil.com", None)?, "/");
/// assert_eq!(policy.check("JavaScript:alert(1)", None)?, "/");
/// assert!(policy.check("https://evil.com/", None).is_err());
/// assert_eq!(policy.check("http://myapp.test/x", Some("myapp.test:8080"))?, "http://myapp.test/x");
///
/// let prod = policy.clone().with_unsafe(UnsafeRedirects::ToRoot);
/// assert_eq!(prod.check("https://evil.com/", None)?, "/");
/// # Ok::<_, yolk_security::UnsafeRedirect>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RedirectPolicy {
    domains: DomainList,
    unsafe_redirects: UnsafeRedirects,
}

impl RedirectPolicy {
    /// A policy allowing `domains` (and the request's own host), refusing other hosts with an
    /// error.
    pub fn new(domains: DomainList) -> Self {
        Self {
            domains,
            unsafe_redirects: UnsafeRedirects::Error,
        }
    }

    /// Sets what a redirect to a foreign host does. Default: [`UnsafeRedirects::Error`].
    #[must_use]
    pub fn with_unsafe(mut self, unsafe_redirects: UnsafeRedirects) -> Self {
        self.unsafe_redirects = unsafe_redirects;
        self
    }

    /// Where to send the client for `target`; `own_host` is the request's `Host` (a port is
    /// ignored).
    ///
    /// # Errors
    ///
    /// [`UnsafeRedirect`] for a foreign host under [`UnsafeRedirects::Error`].
    pub fn check<'a>(
        &self,
        target: &'a str,
        own_host: Option<&str>,
    ) -> Result<Cow<'a, str>, UnsafeRedirect> {
        const ROOT: Cow<'static, str> = Cow::Borrowed("/");
        // Browsers drop leading and trailing C0 controls and spaces, and tabs and newlines
        // anywhere, and read `\` as `/` in http(s) URLs.
        let trimmed = target.trim_matches(|c: char| c <= ' ');
        let cleaned: Cow<'a, str> = if trimmed.contains(['\t', '\n', '\r', '\\']) {
            Cow::Owned(
                trimmed
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .map(|c| if c == '\\' { '/' } else { c })
                    .collect(),
            )
        } else {
            Cow::Borrowed(trimmed)
        };
        if cleaned.is_empty() || cleaned.starts_with("//") {
            return Ok(ROOT);
        }
        if cleaned.starts_with('/') {
            return Ok(cleaned);
        }
        let url = match url::Url::parse(&cleaned) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => return Ok(cleaned),
            Err(_) => return Ok(ROOT),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Ok(ROOT);
        }
        let Some(host) = url.host_str() else {
            return Ok(ROOT);
        };
        let own = own_host
            .map(crate::domain::strip_port)
            .is_some_and(|own| crate::domain::ascii_host(own) == host);
        if own || self.domains.contains(host) {
            return Ok(Cow::Owned(url.into()));
        }
        match self.unsafe_redirects {
            UnsafeRedirects::ToRoot => {
                tracing::warn!(target = %target, "redirect to a host outside security.domain_white_list sent to /");
                Ok(ROOT)
            }
            UnsafeRedirects::Error => Err(UnsafeRedirect {
                target: target.to_owned(),
                host: host.to_owned(),
            }),
        }
    }
}

/// A redirect to a host outside `domain_white_list`, refused; answers 500 with the fix.
///
/// ```
/// use yolk_security::{DomainList, RedirectPolicy};
///
/// let error = RedirectPolicy::new(DomainList::default())
///     .check("https://evil.com/x", None)
///     .unwrap_err();
/// assert_eq!(error.host(), "evil.com");
/// assert!(error.to_string().contains("security.domain_white_list"));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "redirect to `{target}` refused: host `{host}` is not in security.domain_white_list; \
     add it there, or use `SafeRedirect::unsafe_to` if this target is meant"
)]
pub struct UnsafeRedirect {
    target: String,
    host: String,
}

impl UnsafeRedirect {
    /// The refused host.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl IntoResponse for UnsafeRedirect {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        RedirectPolicy::new(DomainList::new(["good.com", "*.cdn.org", "bücher.de"]))
    }

    #[test]
    fn tricky_targets_go_to_root() {
        for target in [
            "//evil.com",
            "\\\\evil.com",
            "/\\evil.com",
            "\\/evil.com",
            " //evil.com",
            "/\t/evil.com",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "http://",
            "",
        ] {
            assert_eq!(policy().check(target, None).unwrap(), "/", "{target:?}");
        }
    }

    #[test]
    fn white_listed_hosts_pass_in_any_case() {
        for (target, expected) in [
            ("HTTPS://GOOD.COM/a", "https://good.com/a"),
            ("hTTp://api.good.com", "http://api.good.com/"),
            ("https://x.cdn.org/", "https://x.cdn.org/"),
            ("https://bücher.de/", "https://xn--bcher-kva.de/"),
            ("https:\\\\good.com\\a", "https://good.com/a"),
        ] {
            assert_eq!(policy().check(target, None).unwrap(), expected, "{target}");
        }
    }

    #[test]
    fn foreign_and_look_alike_hosts_are_refused() {
        for target in [
            "https://evil.com",
            "https://good.com.evil.com/",
            "https://goodcom/",
            "https://gооd.com/", // Cyrillic о
            "http:evil.com",
            "https://good.com@evil.com/",
            "https:/\\evil.com",
        ] {
            assert!(policy().check(target, None).is_err(), "{target}");
            let root = policy().with_unsafe(UnsafeRedirects::ToRoot);
            assert_eq!(root.check(target, None).unwrap(), "/", "{target}");
        }
    }

    #[test]
    fn relative_paths_pass() {
        assert_eq!(policy().check("/a?b=c#d", None).unwrap(), "/a?b=c#d");
        assert_eq!(policy().check("next", None).unwrap(), "next");
    }
}
