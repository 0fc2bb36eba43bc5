//! The `[session]` section: [`SessionConfig`], with Egg's defaults.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The default cookie name: `YOLK_SESS` (Egg's is `EGG_SESS`).
pub const DEFAULT_COOKIE_NAME: &str = "YOLK_SESS";

/// Egg's default max age: one day.
pub const ONE_DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a session lives.
///
/// In config: a number of milliseconds, as Egg writes `maxAge`, or `"session"` for a cookie
/// that the browser drops when it closes.
///
/// ```
/// use std::time::Duration;
/// use yolk_session::{MaxAge, SessionConfig};
///
/// let config: SessionConfig = toml::from_str("max_age = 3600000").unwrap();
/// assert_eq!(config.max_age, MaxAge::Duration(Duration::from_secs(3600)));
/// let config: SessionConfig = toml::from_str("max_age = \"session\"").unwrap();
/// assert_eq!(config.max_age, MaxAge::Session);
/// assert_eq!(MaxAge::Session.ttl(), Duration::from_secs(86_400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaxAge {
    /// The cookie (and the stored session) expire after this long.
    Duration(Duration),
    /// A browser-session cookie: no `Max-Age`, so the browser drops it when it closes. The
    /// session itself (in the cookie or in a store) still expires after [`ONE_DAY`].
    Session,
}

impl MaxAge {
    /// How long the session data is kept: the duration, or [`ONE_DAY`] for
    /// [`MaxAge::Session`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use yolk_session::MaxAge;
    ///
    /// assert_eq!(MaxAge::Duration(Duration::from_secs(5)).ttl(), Duration::from_secs(5));
    /// ```
    pub fn ttl(self) -> Duration {
        match self {
            Self::Duration(duration) => duration,
            Self::Session => ONE_DAY,
        }
    }

    /// The `Max-Age` of the cookie: `None` for a browser-session cookie.
    ///
    /// ```
    /// use yolk_session::MaxAge;
    ///
    /// assert_eq!(MaxAge::Session.cookie_max_age(), None);
    /// ```
    pub fn cookie_max_age(self) -> Option<Duration> {
        match self {
            Self::Duration(duration) => Some(duration),
            Self::Session => None,
        }
    }

    pub(crate) fn to_millis(self) -> Option<u64> {
        self.cookie_max_age()
            .map(|duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn from_millis(millis: Option<u64>) -> Self {
        millis.map_or(Self::Session, |ms| {
            Self::Duration(Duration::from_millis(ms))
        })
    }
}

impl Default for MaxAge {
    fn default() -> Self {
        Self::Duration(ONE_DAY)
    }
}

impl Serialize for MaxAge {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_millis() {
            Some(millis) => serializer.serialize_u64(millis),
            None => serializer.serialize_str("session"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaxAgeVisitor;

        impl Visitor<'_> for MaxAgeVisitor {
            type Value = MaxAge;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of milliseconds (e.g. 86400000) or \"session\"")
            }

            fn visit_u64<E: de::Error>(self, millis: u64) -> Result<MaxAge, E> {
                if millis == 0 {
                    return Err(E::custom(
                        "a max age of 0 ms expires every session at once; use a number of \
                         milliseconds above 0, or \"session\"",
                    ));
                }
                Ok(MaxAge::Duration(Duration::from_millis(millis)))
            }

            fn visit_i64<E: de::Error>(self, millis: i64) -> Result<MaxAge, E> {
                u64::try_from(millis)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(millis), &self))
                    .and_then(|millis| self.visit_u64(millis))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<MaxAge, E> {
                if value == "session" {
                    Ok(MaxAge::Session)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }
        }

        deserializer.deserialize_any(MaxAgeVisitor)
    }
}

/// The cookie's `SameSite` attribute. In config: `"strict"`, `"lax"` or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Never sent on cross-site requests.
    Strict,
    /// Sent on top-level cross-site navigations only.
    Lax,
    /// Sent on every request; the cookie is then always written `Secure`, as browsers require.
    None,
}

impl From<SameSite> for cookie::SameSite {
    fn from(same_site: SameSite) -> Self {
        match same_site {
            SameSite::Strict => Self::Strict,
            SameSite::Lax => Self::Lax,
            SameSite::None => Self::None,
        }
    }
}

/// The `[session]` section of the config, with Egg's defaults.
///
/// ```toml
/// [session]
/// key = "YOLK_SESS"
/// max_age = 86400000      # milliseconds, or "session"
/// http_only = true
/// secure = false
/// same_site = "lax"
/// path = "/"
/// renew = false
/// rolling = false
/// ```
///
/// ```
/// use yolk_session::{MaxAge, SameSite, SessionConfig};
///
/// let config = SessionConfig::default();
/// assert_eq!(config.key, "YOLK_SESS");
/// assert_eq!(config.max_age, MaxAge::Duration(std::time::Duration::from_secs(86_400)));
/// assert!(config.http_only && !config.secure && !config.renew && !config.rolling);
/// assert_eq!(config.same_site, SameSite::Lax);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// The cookie's name. Default: `"YOLK_SESS"`.
    pub key: String,
    /// How long a session lives, in milliseconds, or `"session"` for a browser-session cookie
    /// (whose data still expires after 24 h). Default: `86400000` (24 h).
    pub max_age: MaxAge,
    /// Hide the cookie from JavaScript. Default: `true`.
    pub http_only: bool,
    /// Send the cookie over HTTPS only. Default: `false`.
    pub secure: bool,
    /// The cookie's `SameSite`. Default: `"lax"`.
    pub same_site: SameSite,
    /// The cookie's path. Default: `"/"`.
    pub path: String,
    /// The cookie's domain. Default: none (the host that set it).
    pub domain: Option<String>,
    /// Save the session again (and refresh the cookie) when a request uses it and less than
    /// half its max age is left. Default: `false`.
    pub renew: bool,
    /// Save the session again (and refresh the cookie) on every request that carries it.
    /// Default: `false`.
    pub rolling: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            key: DEFAULT_COOKIE_NAME.to_owned(),
            max_age: MaxAge::default(),
            http_only: true,
            secure: false,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
            renew: false,
            rolling: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_forms() {
        let config: SessionConfig =
            toml::from_str("max_age = 1000\nsame_site = \"strict\"").unwrap();
        assert_eq!(config.max_age, MaxAge::Duration(Duration::from_secs(1)));
        assert_eq!(config.same_site, SameSite::Strict);
        for bad in ["max_age = 0", "max_age = -5", "max_age = \"forever\""] {
            let error = toml::from_str::<SessionConfig>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("session") || error.contains("0 ms"),
                "{bad}: {error}"
            );
        }
        let error = toml::from_str::<SessionConfig>("maxage = 1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field"), "{error}");
    }

    #[test]
    fn round_trips() {
        for max_age in [
            MaxAge::Session,
            MaxAge::Duration(Duration::from_millis(1500)),
        ] {
            let config = SessionConfig {
                max_age,
                ..SessionConfig::default()
            };
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(
                serde_json::from_str::<SessionConfig>(&json).unwrap(),
                config
            );
        }
    }
}
