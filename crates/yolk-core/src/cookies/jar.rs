//! The per-request jar: the request's cookies, parsed on first use, and the `Set-Cookie`
//! headers queued for the response.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use cookie::time::{Duration as TimeDuration, OffsetDateTime};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

use super::{CookieError, CookieOptions};
use crate::keys::Keys;

/// Browsers keep at most about 4 KiB per cookie; larger ones are silently dropped.
const BROWSER_COOKIE_LIMIT: usize = 4093;

/// Last second of year 9999, the latest date an `Expires` attribute can hold.
const MAX_EXPIRES_SECS: i64 = 253_402_300_799;

/// One request's jar, shared by every [`Cookies`] extracted for it and by
/// [`CookieLayer`](super::CookieLayer), which writes its queued headers to the response. Made
/// on the first extraction; nothing is parsed until then.
#[derive(Clone)]
pub(crate) struct CookieSlot(Arc<Slot>);

struct Slot {
    keys: Keys,
    state: Mutex<JarState>,
}

#[derive(Default)]
struct JarState {
    /// The request's cookies in header order, `None` until first used.
    request: Option<Vec<(String, String)>>,
    /// `Set-Cookie` headers to add to the response, in order.
    pending: Vec<Pending>,
}

struct Pending {
    name: String,
    header: HeaderValue,
    /// Written by a read (an expired or re-signed `.sig`), not asked for by the handler: any
    /// later write of the same name replaces it, so one name never gets two headers.
    maintenance: bool,
}

impl CookieSlot {
    pub(crate) fn new(keys: Keys) -> Self {
        Self(Arc::new(Slot {
            keys,
            state: Mutex::new(JarState::default()),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, JarState> {
        // The state stays consistent even if a holder panicked: every update is a single push
        // or retain.
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parses the request's `Cookie` headers unless an earlier extraction already did.
    pub(crate) fn load(&self, headers: &HeaderMap) {
        let mut state = self.lock();
        if state.request.is_none() {
            state.request = Some(parse_cookie_headers(headers));
        }
    }

    /// Appends the queued `Set-Cookie` headers to `headers`, emptying the queue.
    pub(crate) fn flush_into(&self, headers: &mut HeaderMap) {
        let mut state = self.lock();
        for pending in state.pending.drain(..) {
            headers.append(SET_COOKIE, pending.header);
        }
    }
}

/// Parses `Cookie` headers into `(name, value)` pairs in order.
///
/// Never fails: pieces without `=`, with an empty name, or not UTF-8 are skipped. Names and
/// values are trimmed of ASCII whitespace; quotes around a value are kept, as Egg keeps them.
fn parse_cookie_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut cookies = Vec::new();
    for header in headers.get_all(COOKIE) {
        for piece in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = piece.iter().position(|&b| b == b'=') else {
                continue;
            };
            let name = piece[..eq].trim_ascii();
            let value = piece[eq + 1..].trim_ascii();
            if name.is_empty() {
                continue;
            }
            if let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) {
                cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    cookies
}

/// A token character of RFC 9110, the characters a cookie name may hold.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_token_byte)
}

/// A `cookie-octet` of RFC 6265: visible ASCII except `"`, `,`, `;` and `\`.
fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// An attribute value of RFC 6265: printable ASCII except `;`.
fn valid_attribute(value: &str) -> bool {
    value.bytes().all(|b| matches!(b, 0x20..=0x7E) && b != b';')
}

fn check_name(name: &str) -> Result<(), CookieError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(CookieError::InvalidName {
            name: name.to_owned(),
        })
    }
}

fn expires_at(at: SystemTime) -> Option<OffsetDateTime> {
    let secs = match at.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    OffsetDateTime::from_unix_timestamp(secs.min(MAX_EXPIRES_SECS)).ok()
}

/// Formats one `Set-Cookie` header value. `removal` expires the cookie instead: empty value,
/// `Max-Age=0` and an `Expires` at the Unix epoch.
fn render(
    name: &str,
    value: &str,
    options: &CookieOptions,
    removal: bool,
) -> Result<HeaderValue, CookieError> {
    let invalid_attribute = |attribute| CookieError::InvalidAttribute {
        name: name.to_owned(),
        attribute,
    };
    if !valid_attribute(options.path()) {
        return Err(invalid_attribute("path"));
    }
    let mut cookie = cookie::Cookie::new(name.to_owned(), value.to_owned());
    cookie.set_path(options.path().to_owned());
    if let Some(domain) = options.domain() {
        if !valid_attribute(domain) {
            return Err(invalid_attribute("domain"));
        }
        cookie.set_domain(domain.to_owned());
    }
    if options.http_only() {
        cookie.set_http_only(true);
    }
    if options.secure() {
        cookie.set_secure(true);
    }
    if let Some(same_site) = options.same_site() {
        cookie.set_same_site(cookie::SameSite::from(same_site));
    }
    if removal {
        cookie.set_max_age(TimeDuration::ZERO);
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    } else {
        if let Some(max_age) = options.max_age() {
            let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(TimeDuration::seconds(secs));
        }
        if let Some(at) = options.expires().and_then(expires_at) {
            cookie.set_expires(at);
        }
    }
    let mut line = String::new();
    write!(line, "{cookie}").map_err(|fmt::Error| invalid_attribute("expires"))?;
    HeaderValue::try_from(line).map_err(|_| CookieError::InvalidValue {
        name: name.to_owned(),
    })
}

/// The request's cookie jar: Egg's `ctx.cookies`, as an axum extractor.
///
/// A `Cookies` is a cheap handle (cloning it shares the jar), so every method takes `&self`.
/// Reads see the cookies the client sent with the request (a value [`set`](Self::set) in this
/// request is not read back, as in Egg); writes queue `Set-Cookie` headers that
/// [`CookieLayer`](super::CookieLayer) adds to the response once the handler returns (writes
/// made after that are dropped).
///
/// Three kinds of cookies, chosen by [`CookieOptions`] when writing and by the method when
/// reading:
///
/// - **plain**: [`get`](Self::get), [`set`](Self::set) with the default options;
/// - **signed**, Egg's format (`name=value` and `name.sig=<signature of "name=value">`):
///   [`get_signed`](Self::get_signed), `set` with
///   [`with_signed(true)`](CookieOptions::with_signed). The client can read the value but not
///   change it;
/// - **encrypted**: [`get_encrypted`](Self::get_encrypted), `set` with
///   [`with_encrypted(true)`](CookieOptions::with_encrypted). The client can neither read nor
///   change it.
///
/// [`get_with`](Self::get_with) reads any of them from the same options used to write it.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, header};
/// use tower::ServiceExt;
/// use yolk_core::cookies::{CookieLayer, CookieOptions, Cookies};
/// use yolk_core::keys::Keys;
///
/// async fn visit(cookies: Cookies) -> String {
///     let n: u32 = cookies.get_signed("visits").and_then(|v| v.parse().ok()).unwrap_or(0);
///     let options = CookieOptions::new().with_signed(true);
///     cookies.set("visits", &(n + 1).to_string(), &options).unwrap();
///     format!("visit {}", n + 1)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(visit))
///     .layer(CookieLayer::new(Keys::parse("a-long-random-secret").unwrap()));
///
/// let res = app.oneshot(Request::new(Body::empty())).await.unwrap();
/// let set: Vec<_> = res.headers().get_all(header::SET_COOKIE).iter().collect();
/// assert_eq!(set[0], "visits=1; HttpOnly; Path=/");
/// assert!(set[1].to_str().unwrap().starts_with("visits.sig="));
/// # }
/// ```
#[derive(Clone)]
pub struct Cookies {
    slot: CookieSlot,
}

impl fmt::Debug for Cookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secret: show counts only.
        let state = self.slot.lock();
        f.debug_struct("Cookies")
            .field("keys", &self.slot.0.keys)
            .field("request", &state.request.as_ref().map_or(0, Vec::len))
            .field("pending", &state.pending.len())
            .finish()
    }
}

impl Cookies {
    /// A jar reading the cookies of `headers`, for code outside [`CookieLayer`](super::CookieLayer)
    /// (inside it, extract `Cookies` instead). Queued `Set-Cookie` headers are then read with
    /// [`set_cookie_headers`](Self::set_cookie_headers).
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::COOKIE};
    /// use yolk_core::{cookies::Cookies, keys::Keys};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, HeaderValue::from_static("a=1; b=2; a=3"));
    /// let cookies = Cookies::from_headers(Keys::default(), &headers);
    /// assert_eq!(cookies.get("a").as_deref(), Some("1"));
    /// assert_eq!(cookies.get("b").as_deref(), Some("2"));
    /// ```
    pub fn from_headers(keys: Keys, headers: &HeaderMap) -> Self {
        let slot = CookieSlot::new(keys);
        slot.load(headers);
        Self { slot }
    }

    /// The jar of a request handled by [`CookieLayer`](super::CookieLayer).
    pub(crate) fn from_slot(slot: CookieSlot, headers: &HeaderMap) -> Self {
        slot.load(headers);
        Self { slot }
    }

    /// The `Set-Cookie` header values queued so far, in order. [`CookieLayer`](super::CookieLayer)
    /// adds them to the response; this is for tests and for jars made with
    /// [`from_headers`](Self::from_headers).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use yolk_core::{cookies::{CookieOptions, Cookies}, keys::Keys};
    ///
    /// let cookies = Cookies::from_headers(Keys::default(), &HeaderMap::new());
    /// cookies.set("theme", "dark", &CookieOptions::new()).unwrap();
    /// assert_eq!(cookies.set_cookie_headers(), ["theme=dark; HttpOnly; Path=/"]);
    /// ```
    pub fn set_cookie_headers(&self) -> Vec<HeaderValue> {
        self.slot
            .lock()
            .pending
            .iter()
            .map(|p| p.header.clone())
            .collect()
    }

    /// The value of the plain cookie `name` as the client sent it (the first one when the
    /// client sent several of that name, browsers sending the most specific path first).
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::COOKIE};
    /// use yolk_core::{cookies::Cookies, keys::Keys};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, HeaderValue::from_static("locale=en; theme=dark"));
    /// let cookies = Cookies::from_headers(Keys::default(), &headers);
    /// assert_eq!(cookies.get("theme").as_deref(), Some("dark"));
    /// assert_eq!(cookies.get("missing"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(&self.slot.lock(), name).map(str::to_owned)
    }

    /// The value of the signed cookie `name`, or `None` when it is missing or its `name.sig`
    /// cookie is missing or does not verify with any key.
    ///
    /// The same as [`get_with`](Self::get_with) with default options plus
    /// [`with_signed(true)`](CookieOptions::with_signed); see there what it writes back (an
    /// expired `name.sig` when the signature is bad, a fresh one when an older key signed it).
    /// Without keys, every signed cookie reads as absent and nothing is written.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::COOKIE};
    /// use yolk_core::{cookies::Cookies, keys::Keys};
    ///
    /// let keys = Keys::parse("secret").unwrap();
    /// let sig = keys.sign(b"user=42").unwrap();
    /// let mut headers = HeaderMap::new();
    /// let header = format!("user=42; user.sig={sig}; forged=1; forged.sig={sig}");
    /// headers.insert(COOKIE, HeaderValue::try_from(header).unwrap());
    ///
    /// let cookies = Cookies::from_headers(keys, &headers);
    /// assert_eq!(cookies.get_signed("user").as_deref(), Some("42"));
    /// assert_eq!(cookies.get_signed("forged"), None);
    /// ```
    pub fn get_signed(&self, name: &str) -> Option<String> {
        self.get_with(name, &CookieOptions::new().with_signed(true))
    }

    /// The decrypted value of the encrypted cookie `name`, or `None` when it is missing, does
    /// not decrypt with any key (tampered with, or from another application), is not UTF-8, or
    /// there is no key.
    ///
    /// A cookie encrypted with an older key is read but not re-encrypted: set it again to move
    /// it to the first key.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::COOKIE};
    /// use yolk_core::{cookies::Cookies, keys::Keys};
    ///
    /// let keys = Keys::parse("secret").unwrap();
    /// let sealed = keys.encrypt("café; crème".as_bytes()).unwrap();
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, HeaderValue::try_from(format!("note={sealed}")).unwrap());
    ///
    /// let cookies = Cookies::from_headers(keys, &headers);
    /// assert_eq!(cookies.get_encrypted("note").as_deref(), Some("café; crème"));
    /// assert_eq!(cookies.get("note"), Some(sealed));
    /// ```
    pub fn get_encrypted(&self, name: &str) -> Option<String> {
        self.get_with(name, &CookieOptions::new().with_encrypted(true))
    }

    /// Reads the cookie `name` the way `options` wrote it: encrypted when
    /// [`encrypted`](CookieOptions::encrypted), else signed when [`signed`](CookieOptions::signed),
    /// else plain.
    ///
    /// For a signed cookie, this is Egg's behaviour: when `name.sig` is present but verifies
    /// with no key, the cookie reads as absent and an expired `name.sig` is queued; when it
    /// verifies only with an older key, the value is returned and `name.sig` is re-signed with
    /// the first key. Both use `options`' path, domain and other attributes (with
    /// [`overwrite`](CookieOptions::with_overwrite) forced on), so pass the options the cookie
    /// was written with to keep its lifetime.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::COOKIE};
    /// use yolk_core::{cookies::{CookieOptions, Cookies}, keys::Keys};
    ///
    /// let sig = Keys::parse("old").unwrap().sign(b"user=42").unwrap();
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, HeaderValue::try_from(format!("user=42; user.sig={sig}")).unwrap());
    ///
    /// let cookies = Cookies::from_headers(Keys::parse("new,old").unwrap(), &headers);
    /// let options = CookieOptions::new().with_signed(true).with_path("/app");
    /// assert_eq!(cookies.get_with("user", &options).as_deref(), Some("42"));
    ///
    /// let new_sig = Keys::parse("new").unwrap().sign(b"user=42").unwrap();
    /// assert_eq!(
    ///     cookies.set_cookie_headers(),
    ///     [format!("user.sig={new_sig}; HttpOnly; Path=/app")]
    /// );
    /// ```
    pub fn get_with(&self, name: &str, options: &CookieOptions) -> Option<String> {
        let keys = &self.slot.0.keys;
        let mut state = self.slot.lock();
        if options.encrypted() {
            let sealed = lookup(&state, name)?;
            let (plain, _) = keys.decrypt(sealed)?;
            return String::from_utf8(plain).ok();
        }
        if !options.signed() {
            return lookup(&state, name).map(str::to_owned);
        }

        let value = lookup(&state, name)?.to_owned();
        let sig_name = format!("{name}.sig");
        let sig = lookup(&state, &sig_name)?;
        if keys.is_empty() {
            return None;
        }
        let signed = format!("{name}={value}");
        let maintenance = options
            .clone()
            .with_overwrite(true)
            .with_signed(false)
            .with_encrypted(false);
        match keys.verify(signed.as_bytes(), sig) {
            Some(0) => Some(value),
            Some(_) => {
                // Signed by an older key: renew the signature with the first key.
                if let Ok(header) = keys
                    .sign(signed.as_bytes())
                    .map_err(CookieError::from)
                    .and_then(|sig| render(&sig_name, &sig, &maintenance, false))
                {
                    push_maintenance(&mut state, sig_name, header);
                }
                Some(value)
            }
            None => {
                // Forged or stale: expire the bad signature.
                if let Ok(header) = render(&sig_name, "", &maintenance, true) {
                    push_maintenance(&mut state, sig_name, header);
                }
                None
            }
        }
    }

    /// Queues a `Set-Cookie` for `name` with `value` and `options`.
    ///
    /// - Plain: `value` must be a valid cookie value (visible ASCII except `"`, `,`, `;` and
    ///   `\`; it is not percent-encoded for you).
    /// - Signed ([`with_signed`](CookieOptions::with_signed)): the same, plus a `name.sig`
    ///   cookie with the same options carrying [`Keys::sign`]`("name=value")`, as Egg writes it.
    /// - Encrypted ([`with_encrypted`](CookieOptions::with_encrypted)): any text; the cookie
    ///   holds [`Keys::encrypt`]`(value)`.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use yolk_core::{cookies::{CookieOptions, Cookies}, keys::Keys};
    ///
    /// let keys = Keys::parse("secret").unwrap();
    /// let cookies = Cookies::from_headers(keys.clone(), &HeaderMap::new());
    /// cookies.set("user", "42", &CookieOptions::new().with_signed(true)).unwrap();
    ///
    /// let sig = keys.sign(b"user=42").unwrap();
    /// assert_eq!(
    ///     cookies.set_cookie_headers(),
    ///     ["user=42; HttpOnly; Path=/".to_owned(), format!("user.sig={sig}; HttpOnly; Path=/")]
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// Nothing is queued when this fails:
    ///
    /// - [`CookieError::InvalidName`] when `name` is empty or not a token;
    /// - [`CookieError::InvalidValue`] when a plain or signed `value` holds a character a
    ///   cookie value cannot hold;
    /// - [`CookieError::InvalidAttribute`] when the path or domain holds `;`, a control
    ///   character or non-ASCII;
    /// - [`CookieError::Keys`] ([`KeysError::NoKeys`](crate::keys::KeysError::NoKeys)) when
    ///   the cookie is signed or encrypted and no key is configured.
    pub fn set(&self, name: &str, value: &str, options: &CookieOptions) -> Result<(), CookieError> {
        check_name(name)?;
        let keys = &self.slot.0.keys;
        let overwrite = options.overwrite();

        if options.encrypted() {
            let sealed = keys.encrypt(value.as_bytes())?;
            warn_if_too_large(name, &sealed);
            let header = render(name, &sealed, options, false)?;
            push(&mut self.slot.lock(), name.to_owned(), header, overwrite);
            return Ok(());
        }

        if !valid_value(value) {
            return Err(CookieError::InvalidValue {
                name: name.to_owned(),
            });
        }
        warn_if_too_large(name, value);
        let header = render(name, value, options, false)?;
        if !options.signed() {
            push(&mut self.slot.lock(), name.to_owned(), header, overwrite);
            return Ok(());
        }

        let sig = keys.sign(format!("{name}={value}").as_bytes())?;
        let sig_name = format!("{name}.sig");
        let sig_header = render(&sig_name, &sig, options, false)?;
        let mut state = self.slot.lock();
        push(&mut state, name.to_owned(), header, overwrite);
        push(&mut state, sig_name, sig_header, overwrite);
        Ok(())
    }

    /// Queues a `Set-Cookie` expiring `name`: empty value, `Max-Age=0` and an `Expires` at the
    /// Unix epoch, with `options`' path and domain (a browser only removes a cookie whose path
    /// and domain match). When `options` is [`signed`](CookieOptions::signed), `name.sig` is
    /// expired too. Needs no key.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use yolk_core::{cookies::{CookieOptions, Cookies}, keys::Keys};
    ///
    /// let cookies = Cookies::from_headers(Keys::default(), &HeaderMap::new());
    /// cookies.remove("theme", &CookieOptions::new()).unwrap();
    /// assert_eq!(
    ///     cookies.set_cookie_headers(),
    ///     ["theme=; HttpOnly; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`CookieError::InvalidName`] or [`CookieError::InvalidAttribute`], as for
    /// [`set`](Self::set); nothing is queued then.
    pub fn remove(&self, name: &str, options: &CookieOptions) -> Result<(), CookieError> {
        check_name(name)?;
        let header = render(name, "", options, true)?;
        let sig = if options.signed() && !options.encrypted() {
            let sig_name = format!("{name}.sig");
            let header = render(&sig_name, "", options, true)?;
            Some((sig_name, header))
        } else {
            None
        };
        let mut state = self.slot.lock();
        push(&mut state, name.to_owned(), header, options.overwrite());
        if let Some((sig_name, header)) = sig {
            push(&mut state, sig_name, header, options.overwrite());
        }
        Ok(())
    }
}

fn lookup<'a>(state: &'a JarState, name: &str) -> Option<&'a str> {
    state
        .request
        .as_deref()?
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn push(state: &mut JarState, name: String, header: HeaderValue, overwrite: bool) {
    state
        .pending
        .retain(|p| p.name != name || !(overwrite || p.maintenance));
    state.pending.push(Pending {
        name,
        header,
        maintenance: false,
    });
}

/// Queues a header a read decided on: replaced by any later write of the same name.
fn push_maintenance(state: &mut JarState, name: String, header: HeaderValue) {
    push(state, name, header, true);
    if let Some(last) = state.pending.last_mut() {
        last.maintenance = true;
    }
}

fn warn_if_too_large(name: &str, value: &str) {
    if value.len() > BROWSER_COOKIE_LIMIT {
        tracing::warn!(
            cookie = name,
            len = value.len(),
            "cookie value exceeds {BROWSER_COOKIE_LIMIT} bytes; browsers may drop it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    #[test]
    fn parses_leniently() {
        let parsed = parse_cookie_headers(&headers(&[
            b"a=1; b = 2 ;noeq; =x; ;;c=\"q\"; d=e=f",
            b"\xffbad=1; e=\xfe; f=",
        ]));
        let expected = [
            ("a", "1"),
            ("b", "2"),
            ("c", "\"q\""),
            ("d", "e=f"),
            ("f", ""),
        ];
        assert_eq!(
            parsed,
            expected.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn validation() {
        assert!(valid_name("a.sig"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a=b"));
        assert!(!valid_name("é"));
        assert!(valid_value(""));
        assert!(valid_value("abc-_=.~!"));
        for bad in [" ", "\"", ",", ";", "\\", "\t", "\x7f", "é"] {
            assert!(!valid_value(bad), "{bad:?}");
        }
        assert!(valid_attribute("/a b"));
        assert!(!valid_attribute("/a;b"));
        assert!(!valid_attribute("/a\nb"));
    }

    #[test]
    fn expires_clamped() {
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::MAX / 2);
        let header = render("a", "b", &CookieOptions::new().with_expires(far), false).unwrap();
        assert!(
            header
                .to_str()
                .unwrap()
                .ends_with("Expires=Fri, 31 Dec 9999 23:59:59 GMT")
        );
        let before = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(10);
        let header = render("a", "b", &CookieOptions::new().with_expires(before), false).unwrap();
        assert!(
            header
                .to_str()
                .unwrap()
                .ends_with("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }

    #[test]
    fn overwrite_replaces_earlier() {
        let jar = Cookies::from_headers(Keys::default(), &HeaderMap::new());
        jar.set("a", "1", &CookieOptions::new()).unwrap();
        jar.set("b", "1", &CookieOptions::new()).unwrap();
        jar.set("a", "2", &CookieOptions::new()).unwrap();
        assert_eq!(jar.set_cookie_headers().len(), 3);
        jar.set("a", "3", &CookieOptions::new().with_overwrite(true))
            .unwrap();
        let set = jar.set_cookie_headers();
        assert_eq!(set.len(), 2);
        assert!(set[0].to_str().unwrap().starts_with("b=1"));
        assert!(set[1].to_str().unwrap().starts_with("a=3"));
    }
}
