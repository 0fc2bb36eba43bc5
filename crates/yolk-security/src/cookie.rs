//! Finding the CSRF secret's cookie among a request's `Cookie` headers.

use std::fmt;

use http::HeaderMap;
use http::header::COOKIE;

/// A cookie's name, and the search for its value: every request that CSRF applies to looks
/// for its cookie, so the pairs are found with a vectorised search for `;`.
#[derive(Clone)]
pub(crate) struct CookieName {
    name: Box<str>,
}

impl fmt::Debug for CookieName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CookieName {
    /// `name` must be a valid cookie name (the config check sees to it).
    pub(crate) fn new(name: &str) -> Self {
        Self { name: name.into() }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.name
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
        let name = self.name.as_bytes();
        let mut rest = header;
        loop {
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            let pair = rest[..end].trim_ascii_start();
            if let Some(value) = pair.strip_prefix(name).and_then(|v| v.strip_prefix(b"=")) {
                return Some(value);
            }
            rest = rest.get(end + 1..)?;
        }
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
