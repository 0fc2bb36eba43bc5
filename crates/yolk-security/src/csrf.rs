//! CSRF secrets and tokens, where secrets are kept, and putting tokens into forms.
//!
//! Each client has a **secret**, kept in a cookie readable by scripts (`csrfToken`) or, with
//! `use_session`, in the session (through core's
//! [`SessionAccess`](yolk_core::session::SessionAccess)). A request passes when it carries a **token**
//! that is either the secret itself (what a single-page app reads from the cookie and sends in
//! `x-csrf-token`) or a salted token derived from it (what a server-rendered form carries, fresh
//! on every render so the page never repeats the secret — see BREACH).
//!
//! ```
//! use yolk_security::csrf;
//!
//! let secret = csrf::new_secret();
//! let token = csrf::salted_token(&secret);
//! assert!(csrf::verify(&secret, &token));
//! assert!(csrf::verify(&secret, &secret));
//! assert!(!csrf::verify(&secret, "forged"));
//! assert_ne!(token, csrf::salted_token(&secret)); // a new salt each time
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 18;
/// Characters of a token's salt.
const SALT_LEN: usize = 8;

/// Characters of a secret.
pub(crate) const SECRET_LEN: usize = SECRET_BYTES / 3 * 4;

/// A fresh random secret: 18 bytes, base64url (24 characters).
pub fn new_secret() -> String {
    let mut secret = bytes::BytesMut::with_capacity(SECRET_LEN);
    push_secret(&mut secret);
    String::from_utf8(secret.to_vec()).unwrap_or_default()
}

/// Appends a fresh secret to `buf`, with no allocation of its own.
pub(crate) fn push_secret(buf: &mut bytes::BytesMut) {
    let random: [u8; SECRET_BYTES] = rand::rng().random();
    let mut secret = [0_u8; SECRET_LEN];
    let len = URL_SAFE_NO_PAD
        .encode_slice(random, &mut secret)
        .unwrap_or_default();
    buf.extend_from_slice(&secret[..len]);
}

/// A salted token for `secret`: `salt-HMAC(secret, salt)`, different on every call.
pub fn salted_token(secret: &str) -> String {
    let salt: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(SALT_LEN)
        .map(char::from)
        .collect();
    let mut token = salt;
    token.push('-');
    token.push_str(&digest(secret, &token[..SALT_LEN]));
    token
}

/// True when `token` is `secret` itself or a salted token made from it; in constant time
/// for a given length.
pub fn verify(secret: &str, token: &str) -> bool {
    if secret.is_empty() || token.is_empty() {
        return false;
    }
    if bool::from(secret.as_bytes().ct_eq(token.as_bytes())) {
        return true;
    }
    let Some((salt, mac)) = token.split_once('-') else {
        return false;
    };
    if salt.len() != SALT_LEN || !salt.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return false;
    }
    let expected = digest(secret, salt);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
}

fn digest(secret: &str, salt: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any size");
    mac.update(salt.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// `<input type="hidden" name="_csrf" value="TOKEN">`, with the token HTML-escaped.
///
/// ```
/// let input = yolk_security::csrf::hidden_input("_csrf", "abc\"<");
/// assert_eq!(input, r#"<input type="hidden" name="_csrf" value="abc&quot;&lt;">"#);
/// ```
pub fn hidden_input(field: &str, token: &str) -> String {
    format!(
        r#"<input type="hidden" name="{}" value="{}">"#,
        crate::helpers::escape(field),
        crate::helpers::escape(token)
    )
}

/// Puts a hidden `field` input carrying `token` right after the opening tag of every
/// `<form>` in `html` whose `method` is not `GET` (forms without `method` are `GET`).
///
/// ```
/// use yolk_security::csrf::inject_token;
///
/// let html = r#"<form method="post" action="/x"><button>go</button></form>
/// <form action="/search"><input name="q"></form>"#;
/// let out = inject_token(html, "_csrf", "tok");
/// assert!(out.starts_with(
///     r#"<form method="post" action="/x"><input type="hidden" name="_csrf" value="tok">"#
/// ));
/// assert!(out.contains(r#"<form action="/search"><input name="q">"#));
/// ```
pub fn inject_token(html: &str, field: &str, token: &str) -> String {
    let input = hidden_input(field, token);
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() + input.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find("<form") {
        let start = from + found;
        let after_name = start + "<form".len();
        let boundary = lower[after_name..].chars().next();
        let Some(end) = tag_end(&lower, after_name) else {
            break;
        };
        from = end + 1;
        if !matches!(boundary, Some(c) if c == '>' || c.is_ascii_whitespace() || c == '/') {
            continue;
        }
        if !is_unsafe_method(&lower[after_name..end]) {
            continue;
        }
        out.push_str(&html[copied..=end]);
        out.push_str(&input);
        copied = end + 1;
    }
    out.push_str(&html[copied..]);
    out
}

/// The index of the `>` closing the tag opened before `from`, skipping quoted values.
fn tag_end(lower: &str, from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (index, &byte) in lower.as_bytes()[from..].iter().enumerate() {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'>') => return Some(from + index),
            (None, _) => {}
        }
    }
    None
}

fn is_unsafe_method(attributes: &str) -> bool {
    let Some(at) = attributes.find("method") else {
        return false;
    };
    let rest = attributes[at + "method".len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return false;
    };
    let value = rest
        .trim_start()
        .trim_start_matches(['"', '\''])
        .split(|c: char| c == '"' || c == '\'' || c.is_ascii_whitespace() || c == '>')
        .next()
        .unwrap_or("");
    !value.is_empty() && value != "get" && value != "dialog"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_url_safe() {
        let a = new_secret();
        assert_eq!(a.len(), 24);
        assert_ne!(a, new_secret());
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn tokens_of_another_secret_fail() {
        let token = salted_token(&new_secret());
        assert!(!verify(&new_secret(), &token));
        assert!(!verify("", ""));
        assert!(!verify("abc", "short-x"));
        let secret = new_secret();
        let token = salted_token(&secret);
        let (salt, mac) = token.split_once('-').unwrap();
        let tampered = format!("{salt}-{}x", &mac[..mac.len() - 1]);
        assert!(!verify(&secret, &tampered));
    }

    #[test]
    fn injection_handles_case_quotes_and_many_forms() {
        let html =
            r#"<FORM METHOD='POST' data-x="a>b"></FORM><form method=delete></form><formula>"#;
        let out = inject_token(html, "_csrf", "t");
        assert_eq!(
            out,
            r#"<FORM METHOD='POST' data-x="a>b"><input type="hidden" name="_csrf" value="t"></FORM><form method=delete><input type="hidden" name="_csrf" value="t"></form><formula>"#
        );
    }
}
