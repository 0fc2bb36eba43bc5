//! The session cookie's value: a [`Record`] as JSON, bound to the cookie's name, encrypted
//! with the app's [`Keys`] (AES-256-GCM, random nonce).
//!
//! The plaintext is `name NUL json`, so a value sealed for another cookie of the app (or
//! another app's session cookie with the same keys but another name) does not open as this
//! one.
//!
//! ```
//! use yolk_core::Keys;
//! use yolk_session::{Record, codec};
//!
//! let keys = Keys::parse("a-long-random-secret").unwrap();
//! let record = Record::new(serde_json::Map::new(), 1_700_000_000_000, None);
//! let sealed = codec::seal(&keys, "YOLK_SESS", &record).unwrap();
//! assert_eq!(codec::open(&keys, "YOLK_SESS", &sealed), Some((record, 0)));
//! assert_eq!(codec::open(&keys, "OTHER", &sealed), None);
//! ```

use yolk_core::Keys;

use crate::error::{COOKIE_SIZE_LIMIT, SessionError};
use crate::store::Record;

/// AES-GCM's nonce and tag, in bytes.
const OVERHEAD: usize = 12 + 16;

/// The length of `name=value` for a sealed plaintext of `plain_len` bytes.
pub(crate) fn cookie_len(name: &str, json_len: usize) -> usize {
    let sealed = OVERHEAD + name.len() + 1 + json_len;
    // base64 without padding: 4 characters per 3 bytes, rounded up.
    name.len() + 1 + (sealed * 4).div_ceil(3)
}

/// Encrypts `record` for the cookie `name` with the first key.
///
/// ```
/// use yolk_core::Keys;
/// use yolk_session::{Record, SessionError, codec};
///
/// let record = Record::new(serde_json::Map::new(), 0, None);
/// assert!(matches!(codec::seal(&Keys::default(), "s", &record), Err(SessionError::NoKeys)));
/// ```
///
/// # Errors
///
/// [`SessionError::NoKeys`] without keys; [`SessionError::TooLarge`] when `name=value` would
/// exceed [`COOKIE_SIZE_LIMIT`].
pub fn seal(keys: &Keys, name: &str, record: &Record) -> Result<String, SessionError> {
    let mut plain = Vec::with_capacity(name.len() + 64);
    plain.extend_from_slice(name.as_bytes());
    plain.push(0);
    serde_json::to_writer(&mut plain, record).map_err(|source| SessionError::Serialize {
        key: "(session)".to_owned(),
        source,
    })?;
    let size = cookie_len(name, plain.len() - name.len() - 1);
    if size > COOKIE_SIZE_LIMIT {
        return Err(SessionError::TooLarge {
            size,
            limit: COOKIE_SIZE_LIMIT,
        });
    }
    keys.encrypt(&plain).map_err(|_| SessionError::NoKeys)
}

/// Decrypts a value made by [`seal`] for the cookie `name`: the record and the index of the
/// key that opened it (above 0: an older key, to re-seal with the first). `None` for anything
/// else — tampered, truncated, sealed for another name or with an unknown key, not a record.
/// Expiry is not checked here.
///
/// ```
/// use yolk_core::Keys;
/// use yolk_session::{Record, codec};
///
/// let record = Record::new(serde_json::Map::new(), 1, Some(1000));
/// let sealed = codec::seal(&Keys::parse("old").unwrap(), "s", &record).unwrap();
/// let rotated = Keys::parse("new,old").unwrap();
/// assert_eq!(codec::open(&rotated, "s", &sealed), Some((record, 1)));
/// assert_eq!(codec::open(&rotated, "s", &sealed[1..]), None);
/// ```
pub fn open(keys: &Keys, name: &str, sealed: &str) -> Option<(Record, usize)> {
    let (plain, index) = keys.decrypt(sealed)?;
    let json = plain
        .strip_prefix(name.as_bytes())
        .and_then(|rest| rest.strip_prefix(&[0]))?;
    let record = serde_json::from_slice(json).ok()?;
    Some((record, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    #[test]
    fn predicted_length_is_exact() {
        let keys = Keys::parse("k").unwrap();
        for n in [0, 1, 2, 3, 100, 1000] {
            let mut data = Map::new();
            data.insert("v".into(), Value::String("x".repeat(n)));
            let record = Record::new(data, 1_700_000_000_000, Some(5));
            let sealed = seal(&keys, "YOLK_SESS", &record).unwrap();
            let json = serde_json::to_vec(&record).unwrap();
            assert_eq!(
                cookie_len("YOLK_SESS", json.len()),
                "YOLK_SESS=".len() + sealed.len()
            );
        }
    }

    #[test]
    fn too_large_names_the_limit() {
        let keys = Keys::parse("k").unwrap();
        let mut data = Map::new();
        data.insert("v".into(), Value::String("x".repeat(4000)));
        let error = seal(&keys, "s", &Record::new(data, 0, None)).unwrap_err();
        assert!(
            matches!(error, SessionError::TooLarge { limit: 4093, .. }),
            "{error}"
        );
    }
}
