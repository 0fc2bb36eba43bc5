//! [`CookieError`]: why a cookie could not be written.

use crate::keys::KeysError;

/// Why [`Cookies::set`](crate::cookies::Cookies::set) or
/// [`Cookies::remove`](crate::cookies::Cookies::remove) refused a cookie. Messages name the
/// cookie but never print its value, which may be secret.
///
/// ```
/// use yolk_core::cookies::CookieError;
///
/// let err = CookieError::InvalidName { name: "a b".into() };
/// assert!(err.to_string().contains("`a b`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is empty or holds a character that a cookie name cannot hold.
    #[error(
        "invalid cookie name `{name}`: a cookie name must be non-empty and made of ASCII letters, \
         digits and !#$%&'*+-.^_`|~ only"
    )]
    InvalidName {
        /// The refused name.
        name: String,
    },
    /// A plain or signed value holds a character that a cookie value cannot hold.
    #[error(
        "the value of cookie `{name}` holds a character a cookie value cannot hold (control \
         characters, whitespace, `\"`, `,`, `;`, `\\` or non-ASCII): encode it first (e.g. \
         base64url), or write it with `CookieOptions::with_encrypted(true)`, which accepts any \
         text"
    )]
    InvalidValue {
        /// Name of the cookie whose value was refused.
        name: String,
    },
    /// The `Path` or `Domain` option holds a character that would break the `Set-Cookie` header
    /// (or, which the clamping of `Expires` to years 1970 to 9999 should rule out, the date
    /// could not be formatted).
    #[error(
        "the {attribute} option of cookie `{name}` holds a character it cannot hold (`;`, control \
         characters or non-ASCII)"
    )]
    InvalidAttribute {
        /// Name of the cookie.
        name: String,
        /// The attribute refused: `"path"`, `"domain"` or `"expires"`.
        attribute: &'static str,
    },
    /// The cookie is signed or encrypted and keys cannot do it, usually because none is
    /// configured ([`KeysError::NoKeys`], whose message tells where to set `keys`).
    #[error(transparent)]
    Keys(#[from] KeysError),
}

/// A cookie the handler could not write is a server-side mistake: 500, logged, with the
/// message (which never holds the value).
impl axum::response::IntoResponse for CookieError {
    fn into_response(self) -> axum::response::Response {
        tracing::error!("{self}");
        (http::StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
