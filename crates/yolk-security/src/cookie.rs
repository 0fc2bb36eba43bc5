//! Finding the CSRF secret's cookie among a request's `Cookie` headers.

use std::fmt;

use http::HeaderMap;
use http::header::COOKIE;
use memchr::memmem::Finder;

/// A cookie's name, with a searcher for it built once: every request that CSRF applies to
/// looks for its cookie, so the search is a vectorised scan rather than a split on `;`.
#[derive(Clone)]
pub(crate) struct CookieName {
    finder: Finder<'static>,
}

impl fmt::Debug for CookieName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CookieName {
    /// `name` must be a valid cookie name (the config check sees to it).
    pub(crate) fn new(name: &str) -> Self {
        Self {
            finder: Finder::new(name.as_bytes()).into_owned(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Built from a `&str` in `new`.
        std::str::from_utf8(self.finder.needle()).unwrap_or_default()
    }

    /// The cookie's value: the first `name=value` pair in the `Cookie` headers, with spaces and
    /// quotes around the value removed. `None` when it is missing, empty or not ASCII (no
    /// secret of ours is).
    pub(crate) fn value_in<'a>(&self, headers: &'a HeaderMap) -> Option<&'a [u8]> {
        let value = headers
            .get_all(COOKIE)
            .iter()
            .find_map(|header| self.pair_value(header.as_bytes()))?;
        let value = trim_quotes(value.trim_ascii());
        (!value.is_empty() && value.is_ascii()).then_some(value)
    }

    /// The value of the first `name=` pair in one header.
    fn pair_value<'a>(&self, header: &'a [u8]) -> Option<&'a [u8]> {
        let len = self.finder.needle().len();
        self.finder.find_iter(header).find_map(|start| {
            let before = header[..start].trim_ascii_end();
            if !(before.is_empty() || before.ends_with(b";")) {
                return None;
            }
            let rest = header[start + len..].strip_prefix(b"=")?;
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            Some(&rest[..end])
        })
    }
}

fn trim_quotes(mut value: &[u8]) -> &[u8] {
    while let [b'"', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b'"'] = value {
        value = rest;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn found(name: &CookieName, headers: &HeaderMap) -> Option<String> {
        name.value_in(headers)
            .map(|value| String::from_utf8(value.to_vec()).unwrap())
    }

    #[test]
    fn values_are_found_among_many() {
        let name = CookieName::new("csrfToken");
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; csrfToken=abc ;b=2"));
        assert_eq!(found(&name, &headers).as_deref(), Some("abc"));
        assert_eq!(found(&CookieName::new("csrf"), &headers), None);
        headers.insert(COOKIE, HeaderValue::from_static("xcsrfToken=1; csrfToken="));
        assert_eq!(found(&name, &headers), None);
        headers.insert(COOKIE, HeaderValue::from_static("a=csrfToken=1"));
        assert_eq!(found(&name, &headers), None);
        headers.insert(
            COOKIE,
            HeaderValue::from_static("csrfToken = 1; csrfToken=\"q\""),
        );
        assert_eq!(found(&name, &headers).as_deref(), Some("q"));
        // Another cookie's bytes that are not visible ASCII do not hide this one.
        headers.insert(
            COOKIE,
            HeaderValue::from_bytes(b"n=\xe9; csrfToken=ok").unwrap(),
        );
        assert_eq!(found(&name, &headers).as_deref(), Some("ok"));
        headers.insert(
            COOKIE,
            HeaderValue::from_bytes(b"csrfToken=\xc3\xa9").unwrap(),
        );
        assert_eq!(found(&name, &headers), None, "not ASCII: not ours");
        headers.insert(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("csrfToken=second"));
        assert_eq!(found(&name, &headers).as_deref(), Some("second"));
        assert_eq!(name.as_str(), "csrfToken");
    }
}
