//! Application keys with rotation: sign and encrypt with the first key, verify and decrypt with each.
//!
//! (Stub: being written.)

use std::sync::Arc;

/// The application's keys, newest first. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    keys: Arc<[Vec<u8>]>,
}

/// Why a set of keys was refused, or why an operation needs keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No keys are configured.
    #[error("no keys are configured: set `keys` in config/config.default.toml (or YOLK_KEYS), e.g. keys = \"a-long-random-secret\"")]
    NoKeys,
}

impl Keys {
    /// Parses `"k3,k2,k1"`.
    pub fn parse(list: &str) -> Result<Self, KeysError> {
        Ok(Self {
            keys: list
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        })
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
