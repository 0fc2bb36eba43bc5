//! The app's own settings: the top-level keys of the config files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::middleware::PathPattern;

/// The top-level settings every app has; plugin sections sit beside them.
///
/// ```toml
/// name = "blog"
/// keys = "new-key,old-key"        # or ["new-key", "old-key"]
/// proxy = true
/// max_ips_count = 1
/// middleware = ["timing", "auth"]
///
/// [middleware_options.auth]
/// match = ["/admin"]
/// ```
///
/// Unknown top-level keys are caught by the loader, which also knows the plugins' sections.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AppConfig {
    /// The app's name, used in log file names and the process title. Default: the name given
    /// to the builder, else `app`.
    pub name: String,
    /// Keys for signing and encrypting, newest first. Default: none.
    pub keys: KeyList,
    /// Trust `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` from a reverse
    /// proxy. Default: `false`.
    pub proxy: bool,
    /// With `proxy`, how many entries of `X-Forwarded-For` to trust, counted from the right;
    /// `0` trusts them all and takes the leftmost. Default: `0`.
    pub max_ips_count: usize,
    /// The order of the app's own middleware, by name. Default: the order they were added.
    pub middleware: Vec<String>,
    /// `enable` / `match` / `ignore` for any middleware, app's or plugin's, by name.
    pub middleware_options: BTreeMap<String, MiddlewareOptions>,
    /// How long one lifecycle hook of one plugin may take, in milliseconds. Default: `10000`.
    pub hook_timeout_ms: u64,
    /// How long a graceful stop waits for in-flight requests, in milliseconds. Default: `30000`.
    pub drain_timeout_ms: u64,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            name: "app".to_owned(),
            keys: KeyList::default(),
            proxy: false,
            max_ips_count: 0,
            middleware: Vec::new(),
            middleware_options: BTreeMap::new(),
            hook_timeout_ms: 10_000,
            drain_timeout_ms: 30_000,
        }
    }
}

impl AppConfig {
    /// The top-level keys this struct reads, derived from its fields.
    pub(crate) fn keys_read() -> Vec<String> {
        match serde_json::to_value(Self::default()) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(key, _)| key).collect(),
            _ => Vec::new(),
        }
    }
}

/// `keys` as written: a comma-separated string or an array.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum KeyList {
    /// `keys = "new,old"`
    Joined(String),
    /// `keys = ["new", "old"]`
    List(Vec<String>),
}

impl Default for KeyList {
    fn default() -> Self {
        Self::Joined(String::new())
    }
}

impl KeyList {
    /// The keys, newest first, trimmed, empty entries dropped.
    pub fn to_vec(&self) -> Vec<String> {
        let keys: Vec<&str> = match self {
            Self::Joined(joined) => joined.split(',').collect(),
            Self::List(list) => list.iter().map(String::as_str).collect(),
        };
        keys.into_iter()
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `enable`, `match` and `ignore` of one middleware.
///
/// A pattern is a path prefix (`/api` matches `/api` and `/api/users`, not `/apix`), a glob
/// when it holds `*`, `?` or `[` (`/static/**/*.css`), or a regular expression when it starts
/// with `^`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MiddlewareOptions {
    /// `false` removes the middleware. Default: enabled.
    pub enable: Option<bool>,
    /// Run only on paths matching one of these.
    #[serde(rename = "match")]
    pub match_: Vec<PathPattern>,
    /// Run on every path except those matching one of these.
    pub ignore: Vec<PathPattern>,
}
