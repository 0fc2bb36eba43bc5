//! The cookie jar a [`TestApp`](crate::TestApp) keeps across requests.

use cookie::Cookie;
use cookie::time::OffsetDateTime;

/// Cookies by name, in the order they were first set.
///
/// Path and domain are ignored: every cookie is sent on every request, as if each had
/// `Path=/` and the app's own domain.
#[derive(Debug, Default)]
pub(crate) struct CookieJar {
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn set(&mut self, name: &str, value: &str) {
        match self.cookies.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot)) => value.clone_into(slot),
            None => self.cookies.push((name.to_owned(), value.to_owned())),
        }
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.cookies.retain(|(n, _)| n != name);
    }

    pub(crate) fn clear(&mut self) {
        self.cookies.clear();
    }

    /// The value of a `Cookie` header carrying every cookie, or `None` when the jar is empty.
    pub(crate) fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Some(pairs.join("; "))
    }

    /// Applies one `Set-Cookie` value: stores the cookie, or removes it when `Max-Age` is zero
    /// or negative or `Expires` has passed. A value that does not parse is ignored, as a
    /// browser ignores it.
    pub(crate) fn store(&mut self, set_cookie: &str) {
        let Ok(cookie) = Cookie::parse(set_cookie) else {
            return;
        };
        let expired_by_age = cookie
            .max_age()
            .is_some_and(|age| age.is_zero() || age.is_negative());
        let expired_by_date = cookie
            .expires_datetime()
            .is_some_and(|at| at <= OffsetDateTime::now_utc());
        if expired_by_age || expired_by_date {
            self.remove(cookie.name());
        } else {
            self.set(cookie.name(), cookie.value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_replaces_and_expires() {
        let mut jar = CookieJar::default();
        assert_eq!(jar.header(), None);
        jar.store("a=1; Path=/; HttpOnly");
        jar.store("b=2");
        jar.store("a=3");
        assert_eq!(jar.header().as_deref(), Some("a=3; b=2"));
        jar.store("a=; Path=/; Max-Age=0");
        assert_eq!(jar.get("a"), None);
        jar.store("b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(jar.header(), None);
    }

    #[test]
    fn keeps_future_expiry_and_ignores_garbage() {
        let mut jar = CookieJar::default();
        jar.store("a=1; Max-Age=60; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
        jar.store("no equals sign");
        assert_eq!(jar.header().as_deref(), Some("a=1"));
        jar.clear();
        assert_eq!(jar.get("a"), None);
    }
}
