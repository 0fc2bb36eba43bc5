//! The application's keys, with rotation: sign and encrypt with the first key, verify and
//! decrypt with each of them.
//!
//! Keys are listed newest first, as Egg's `keys` config is: `keys = "new,old"`. Adding a new key
//! in front keeps the cookies signed or encrypted with the older keys readable, and
//! [`Cookies`](crate::cookies::Cookies) re-signs such cookies with the new key as they come in.
//!
//! Signatures are Egg's (`egg-cookies`) format, so a cookie signed by an Egg application verifies
//! here with the same key:
//!
//! ```
//! use yolk_core::keys::Keys;
//!
//! let keys = Keys::parse("new-secret, old-secret").unwrap();
//! let sig = keys.sign(b"name=value").unwrap();
//! assert_eq!(keys.verify(b"name=value", &sig), Some(0));
//!
//! let sealed = keys.encrypt(b"secret").unwrap();
//! assert_eq!(keys.decrypt(&sealed), Some((b"secret".to_vec(), 0)));
//! ```

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// HKDF `info` deriving the AES-256-GCM key from an application key.
const ENCRYPTION_INFO: &[u8] = b"yolk cookie encryption v1";

/// Length of the random AES-GCM nonce in bytes (96 bits).
const NONCE_LEN: usize = 12;

/// Length of the AES-GCM authentication tag in bytes.
const TAG_LEN: usize = 16;

/// One application key, with what signing and encryption need precomputed.
#[derive(Clone)]
struct Key {
    /// HMAC-SHA256 keyed with the raw key bytes, cloned for each signature.
    mac: HmacSha256,
    /// AES-256-GCM keyed with `HKDF-SHA256(key, info = ENCRYPTION_INFO)`.
    cipher: Aes256Gcm,
    /// Length of the raw key in bytes, for [`Keys::check_strength`].
    len: usize,
}

impl Key {
    fn new(raw: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <HmacSha256 as Mac>::new_from_slice(raw).expect("HMAC takes keys of any length");
        let mut derived = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32 bytes, so this cannot fail.
        Hkdf::<Sha256>::new(None, raw)
            .expand(ENCRYPTION_INFO, &mut derived)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let cipher = Aes256Gcm::new(&derived.into());
        Self {
            mac,
            cipher,
            len: raw.len(),
        }
    }
}

/// The application's keys, newest first. Cheap to clone (one `Arc`).
///
/// The first key signs and encrypts; every key verifies and decrypts, which lets keys rotate:
/// put the new key first and keep the old ones after it for as long as their cookies may come
/// back.
///
/// `Debug` prints only how many keys there are, never their bytes:
///
/// ```
/// use yolk_core::keys::Keys;
///
/// let keys = Keys::parse("k2,k1").unwrap();
/// assert_eq!(format!("{keys:?}"), "Keys { count: 2 }");
/// ```
#[derive(Clone, Default)]
pub struct Keys {
    keys: Arc<[Key]>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("count", &self.keys.len())
            .finish()
    }
}

/// Why a set of keys was refused, or why an operation needs keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No key is configured, and the operation (signing, encrypting) needs one.
    #[error(
        "no keys are configured: set `keys` in config/config.default.toml (or the YOLK_KEYS \
         environment variable) to a comma-separated list of long random secrets, newest first, \
         e.g. keys = \"a-long-random-secret\""
    )]
    NoKeys,
    /// A key is shorter than the required minimum.
    #[error(
        "the key at index {index} of `keys` (0 is the first, newest key) is {len} bytes long, \
         shorter than the required {min}: use at least 16 random bytes, e.g. the output of \
         `openssl rand -base64 32`"
    )]
    TooShort {
        /// Position of the key in the list, 0 being the first (newest) key.
        index: usize,
        /// Length of that key in bytes.
        len: usize,
        /// The minimum length that was required, in bytes.
        min: usize,
    },
    /// Encryption failed; AES-GCM refuses only plaintexts of tens of gigabytes.
    #[error("encryption failed: the plaintext is too large for AES-256-GCM")]
    EncryptionFailed,
}

impl Keys {
    /// Parses a comma-separated list of keys, newest first, as Egg's `keys` config is written:
    /// `"k3,k2,k1"`. Each entry is trimmed and empty entries are skipped; each key is its UTF-8
    /// bytes.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let keys = Keys::parse(" k3, k2,,k1 ").unwrap();
    /// assert_eq!(keys.len(), 3);
    /// assert!(Keys::parse(" , ").unwrap().is_empty());
    /// ```
    ///
    /// # Errors
    ///
    /// None today: a list with no key gives empty `Keys`, and signing or encrypting with them
    /// then fails with [`KeysError::NoKeys`]. Call [`Keys::is_empty`] to require keys, and
    /// [`Keys::check_strength`] to refuse short ones.
    pub fn parse(list: &str) -> Result<Self, KeysError> {
        Ok(Self::new(
            list.split(',').map(str::trim).filter(|k| !k.is_empty()),
        ))
    }

    /// Keys from raw byte strings, newest first. Empty entries are skipped.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let keys = Keys::new([b"new".as_slice(), b"", b"old"]);
    /// assert_eq!(keys.len(), 2);
    /// ```
    pub fn new<I>(keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self {
            keys: keys
                .into_iter()
                .filter(|k| !k.as_ref().is_empty())
                .map(|k| Key::new(k.as_ref()))
                .collect(),
        }
    }

    /// How many keys there are.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// assert_eq!(Keys::parse("a,b").unwrap().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is configured.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// assert!(Keys::default().is_empty());
    /// assert!(!Keys::parse("a").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Signs `data` with the first key: base64url without padding of HMAC-SHA256(key, data).
    ///
    /// This is `egg-cookies`' format (base64 with `/` → `_`, `+` → `-` and no `=`), so a
    /// signature made by an Egg application with the same key is the same string.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let keys = Keys::parse("keys").unwrap();
    /// assert_eq!(
    ///     keys.sign(b"name=value").unwrap(),
    ///     "CsuEwUdlRTAfEJMSdncTNhXKj2UyFLhHRkdIkTdI_sc"
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeysError::NoKeys`] when there is no key.
    pub fn sign(&self, data: &[u8]) -> Result<String, KeysError> {
        let key = self.keys.first().ok_or(KeysError::NoKeys)?;
        let mut mac = key.mac.clone();
        mac.update(data);
        Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Checks a signature made by [`Keys::sign`] against every key, in constant time for each.
    ///
    /// Returns the index of the key that verifies (0 being the first, newest key), or `None`
    /// when no key does, the signature is not base64url without padding, or there is no key.
    /// An index above 0 means the signature is valid but should be renewed with the first key.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let old = Keys::parse("old").unwrap();
    /// let rotated = Keys::parse("new,old").unwrap();
    /// let sig = old.sign(b"data").unwrap();
    /// assert_eq!(rotated.verify(b"data", &sig), Some(1));
    /// assert_eq!(rotated.verify(b"date", &sig), None);
    /// ```
    pub fn verify(&self, data: &[u8], sig: &str) -> Option<usize> {
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        self.keys.iter().position(|key| {
            let mut mac = key.mac.clone();
            mac.update(data);
            mac.verify_slice(&sig).is_ok()
        })
    }

    /// Encrypts `plaintext` with the first key: AES-256-GCM under a key derived from it with
    /// HKDF-SHA256, with a random 96-bit nonce. Returns base64url without padding of
    /// `nonce || ciphertext || tag`, which is safe in a cookie value.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let keys = Keys::parse("secret").unwrap();
    /// let a = keys.encrypt(b"hello").unwrap();
    /// let b = keys.encrypt(b"hello").unwrap();
    /// assert_ne!(a, b, "each encryption uses a fresh nonce");
    /// assert_eq!(keys.decrypt(&a), Some((b"hello".to_vec(), 0)));
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeysError::NoKeys`] when there is no key; [`KeysError::EncryptionFailed`] for a
    /// plaintext too large for AES-GCM (tens of gigabytes).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, KeysError> {
        let key = self.keys.first().ok_or(KeysError::NoKeys)?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| KeysError::EncryptionFailed)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts what [`Keys::encrypt`] produced, trying each key in turn.
    ///
    /// Returns the plaintext and the index of the key that opened it (0 being the first key),
    /// or `None` on any failure: not base64url without padding, too short, tampered with,
    /// encrypted with a key not in the list, or no key at all. It never panics.
    ///
    /// ```
    /// use yolk_core::keys::Keys;
    ///
    /// let sealed = Keys::parse("old").unwrap().encrypt(b"data").unwrap();
    /// let rotated = Keys::parse("new,old").unwrap();
    /// assert_eq!(rotated.decrypt(&sealed), Some((b"data".to_vec(), 1)));
    /// assert_eq!(rotated.decrypt("not-a-sealed-value"), None);
    /// ```
    pub fn decrypt(&self, sealed: &str) -> Option<(Vec<u8>, usize)> {
        if self.keys.is_empty() {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::from_slice(nonce);
        self.keys
            .iter()
            .enumerate()
            .find_map(|(index, key)| Some((key.cipher.decrypt(nonce, sealed).ok()?, index)))
    }

    /// Refuses any key shorter than `min_len` bytes. The loader calls this in the `prod`
    /// environment with 16.
    ///
    /// Having no key at all passes this check (signing and encrypting then fail with
    /// [`KeysError::NoKeys`]); test [`Keys::is_empty`] to require keys.
    ///
    /// ```
    /// use yolk_core::keys::{Keys, KeysError};
    ///
    /// let keys = Keys::parse("a-key-of-32-bytes-long-enough!!!,short").unwrap();
    /// assert_eq!(
    ///     keys.check_strength(16),
    ///     Err(KeysError::TooShort { index: 1, len: 5, min: 16 })
    /// );
    /// assert_eq!(keys.check_strength(5), Ok(()));
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeysError::TooShort`] naming the first key, by position, that is too short.
    pub fn check_strength(&self, min_len: usize) -> Result<(), KeysError> {
        match self.keys.iter().position(|key| key.len < min_len) {
            Some(index) => Err(KeysError::TooShort {
                index,
                len: self.keys[index].len,
                min: min_len,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// base64url without padding of HMAC-SHA256(key, data), computed here with the `hmac` and
    /// `base64` crates directly rather than through [`Keys`].
    fn reference_sig(key: &[u8], data: &[u8]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap();
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn sign_verify_roundtrip() {
        let keys = Keys::parse("k1").unwrap();
        let sig = keys.sign(b"hello").unwrap();
        assert_eq!(keys.verify(b"hello", &sig), Some(0));
        assert_eq!(keys.verify(b"hellO", &sig), None);
    }

    #[test]
    fn known_vector() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(b"keys",
        //   b"name=value", hashlib.sha256).digest()).rstrip(b"=").decode())'
        const EXPECTED: &str = "CsuEwUdlRTAfEJMSdncTNhXKj2UyFLhHRkdIkTdI_sc";
        let keys = Keys::parse("keys").unwrap();
        assert_eq!(keys.sign(b"name=value").unwrap(), EXPECTED);
        assert_eq!(reference_sig(b"keys", b"name=value"), EXPECTED);
        assert_eq!(keys.verify(b"name=value", EXPECTED), Some(0));
    }

    #[test]
    fn matches_reference_for_many_inputs() {
        let keys = Keys::parse("some key, other").unwrap();
        for data in [&b""[..], b"a", b"name=value", &[0xff; 300]] {
            assert_eq!(keys.sign(data).unwrap(), reference_sig(b"some key", data));
        }
    }

    #[test]
    fn rotation_verifies_with_old_key() {
        let old = Keys::parse("old").unwrap();
        let rotated = Keys::parse("new,old").unwrap();
        let sig = old.sign(b"data").unwrap();
        assert_eq!(rotated.verify(b"data", &sig), Some(1));
        assert_eq!(
            rotated.verify(b"data", &rotated.sign(b"data").unwrap()),
            Some(0)
        );
        assert_eq!(Keys::parse("new").unwrap().verify(b"data", &sig), None);
    }

    #[test]
    fn decrypt_with_old_key() {
        let sealed = Keys::parse("old").unwrap().encrypt(b"payload").unwrap();
        let rotated = Keys::parse("newer,new,old").unwrap();
        assert_eq!(rotated.decrypt(&sealed), Some((b"payload".to_vec(), 2)));
        assert_eq!(Keys::parse("other").unwrap().decrypt(&sealed), None);
    }

    #[test]
    fn tampering_is_rejected() {
        let keys = Keys::parse("k").unwrap();
        let sig = keys.sign(b"data").unwrap();
        // Padding, standard alphabet and truncation are all refused.
        assert_eq!(keys.verify(b"data", &format!("{sig}=")), None);
        assert_eq!(keys.verify(b"data", &sig[..sig.len() - 1]), None);
        // The standard base64 alphabet is not Egg's format.
        let known = Keys::parse("keys").unwrap();
        let sig = known.sign(b"name=value").unwrap();
        assert!(sig.contains('_'));
        assert_eq!(known.verify(b"name=value", &sig.replace('_', "/")), None);
        assert_eq!(keys.verify(b"data", ""), None);

        let sealed = keys.encrypt(b"data").unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                keys.decrypt(&URL_SAFE_NO_PAD.encode(&bytes)),
                None,
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert_eq!(
            keys.decrypt(&URL_SAFE_NO_PAD.encode(&bytes)),
            Some((b"data".to_vec(), 0))
        );
        assert_eq!(keys.decrypt(&sealed[..sealed.len() - 1]), None);
        assert_eq!(keys.decrypt(""), None);
        assert_eq!(keys.decrypt("%%%"), None);
        assert_eq!(keys.decrypt(&URL_SAFE_NO_PAD.encode([0u8; 27])), None);
    }

    #[test]
    fn no_keys() {
        let keys = Keys::default();
        assert_eq!(keys.sign(b"x"), Err(KeysError::NoKeys));
        assert_eq!(keys.encrypt(b"x"), Err(KeysError::NoKeys));
        assert_eq!(keys.verify(b"x", "abc"), None);
        assert_eq!(keys.decrypt("abc"), None);
        assert_eq!(keys.check_strength(16), Ok(()));
        assert!(KeysError::NoKeys.to_string().contains("YOLK_KEYS"));
    }

    #[test]
    fn strength_and_debug() {
        let keys = Keys::parse("0123456789abcdef,short").unwrap();
        let err = keys.check_strength(16).unwrap_err();
        assert_eq!(
            err,
            KeysError::TooShort {
                index: 1,
                len: 5,
                min: 16
            }
        );
        assert!(err.to_string().contains("index 1"));
        assert!(err.to_string().contains("16 random bytes"));
        let debug = format!("{keys:?}");
        assert_eq!(debug, "Keys { count: 2 }");
        assert!(!debug.contains("short"));
    }
}
