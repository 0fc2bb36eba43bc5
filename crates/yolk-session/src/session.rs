//! The [`Session`] handle, its per-request state, and what is saved when the response goes out.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::time::{Duration as TimeDuration, OffsetDateTime};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use yolk_core::Keys;

use crate::codec;
use crate::config::{MaxAge, SameSite};
use crate::error::{COOKIE_SIZE_LIMIT, SessionError};
use crate::store::{Record, Store};

/// The length of a store session id: 32 random bytes in base64url.
const ID_LEN: usize = 43;

/// What one [`SessionLayer`](crate::SessionLayer) shares with all its requests.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) keys: Keys,
    pub(crate) store: Option<Arc<dyn Store>>,
    pub(crate) max_age: MaxAge,
    pub(crate) http_only: bool,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) renew: bool,
    pub(crate) rolling: bool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("name", &self.name)
            .field(
                "store",
                &self.store.as_ref().map_or("cookie", |_| "external"),
            )
            .field("max_age", &self.max_age)
            .field("renew", &self.renew)
            .field("rolling", &self.rolling)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// A `Set-Cookie` value carrying `value`, or expiring the cookie when `max_age` is `None`.
    pub(crate) fn set_cookie(
        &self,
        value: &str,
        max_age: Option<MaxAge>,
    ) -> Result<HeaderValue, SessionError> {
        let mut cookie = cookie::Cookie::new(self.name.as_str(), value);
        cookie.set_path(self.path.as_str());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.as_str());
        }
        cookie.set_http_only(self.http_only);
        cookie.set_secure(self.secure || self.same_site == SameSite::None);
        cookie.set_same_site(cookie::SameSite::from(self.same_site));
        match max_age {
            None => {
                cookie.set_max_age(TimeDuration::ZERO);
                cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
            }
            Some(max_age) => {
                if let Some(duration) = max_age.cookie_max_age() {
                    // Rounded up: a max age under a second must not expire the cookie at once.
                    let secs =
                        i64::try_from(duration.as_millis().div_ceil(1000)).unwrap_or(i64::MAX / 2);
                    cookie.set_max_age(TimeDuration::seconds(secs));
                    let now = OffsetDateTime::now_utc();
                    if let Some(at) = now.checked_add(TimeDuration::seconds(secs)) {
                        cookie.set_expires(at);
                    }
                }
            }
        }
        HeaderValue::try_from(cookie.to_string()).map_err(|_| SessionError::Serialize {
            key: "(cookie attributes)".to_owned(),
            source: serde::ser::Error::custom(
                "the cookie name, path or domain holds a character a header cannot",
            ),
        })
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers, if any.
pub(crate) fn find_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    for header in headers.get_all(COOKIE) {
        for piece in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = piece.iter().position(|&b| b == b'=') else {
                continue;
            };
            if piece[..eq].trim_ascii() == name.as_bytes() {
                return std::str::from_utf8(piece[eq + 1..].trim_ascii())
                    .ok()
                    .map(str::to_owned);
            }
        }
    }
    None
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One request's session, once loaded.
#[derive(Debug)]
pub(crate) struct State {
    /// The store id (external stores only); `None` until the session is first saved.
    id: Option<String>,
    /// Store ids to delete at commit (regenerate, destroy).
    stale_ids: Vec<String>,
    data: Map<String, Value>,
    /// The data as loaded, as JSON: `None` for a new session.
    loaded_json: Option<String>,
    expires_at_ms: u64,
    max_age: MaxAge,
    max_age_changed: bool,
    /// Opened with an older key: re-seal with the first.
    rotate: bool,
    destroyed: bool,
    regenerated: bool,
    pub(crate) wants_json: bool,
}

impl State {
    fn fresh(shared: &Shared, wants_json: bool) -> Self {
        Self {
            id: None,
            stale_ids: Vec::new(),
            data: Map::new(),
            loaded_json: None,
            expires_at_ms: 0,
            max_age: shared.max_age,
            max_age_changed: false,
            rotate: false,
            destroyed: false,
            regenerated: false,
            wants_json,
        }
    }

    fn from_record(shared: &Shared, record: Record, wants_json: bool) -> Self {
        let loaded_json = serde_json::to_string(&record.data).ok();
        Self {
            data: record.data,
            loaded_json,
            expires_at_ms: record.expires_at_ms,
            max_age: MaxAge::from_millis(record.max_age_ms),
            ..Self::fresh(shared, wants_json)
        }
    }

    /// Loads from the cookie store: never fails, a bad cookie gives a fresh session.
    pub(crate) fn from_cookie(shared: &Shared, cookie: Option<&str>, wants_json: bool) -> Self {
        let Some(value) = cookie else {
            return Self::fresh(shared, wants_json);
        };
        match codec::open(&shared.keys, &shared.name, value) {
            Some((record, _)) if record.expires_at_ms <= now_ms() => {
                tracing::warn!(cookie = %shared.name, "expired session cookie; starting a new session");
                Self::fresh(shared, wants_json)
            }
            Some((record, index)) => {
                let mut state = Self::from_record(shared, record, wants_json);
                state.rotate = index > 0;
                state
            }
            None => {
                tracing::warn!(
                    cookie = %shared.name,
                    len = value.len(),
                    "session cookie does not open with any key (tampered, truncated, or from \
                     another app); starting a new session"
                );
                Self::fresh(shared, wants_json)
            }
        }
    }

    /// Loads from the request's cookie: from the cookie itself, or from the external store.
    ///
    /// # Errors
    ///
    /// The store's error when it cannot be reached.
    pub(crate) async fn load(
        shared: &Shared,
        cookie: Option<&str>,
        wants_json: bool,
    ) -> Result<Self, SessionError> {
        let Some(store) = &shared.store else {
            return Ok(Self::from_cookie(shared, cookie, wants_json));
        };
        let Some(id) = cookie else {
            return Ok(Self::fresh(shared, wants_json));
        };
        if !valid_id(id) {
            tracing::warn!(cookie = %shared.name, "malformed session id; starting a new session");
            return Ok(Self::fresh(shared, wants_json));
        }
        match store.get(id).await? {
            Some(record) if record.expires_at_ms > now_ms() => {
                let mut state = Self::from_record(shared, record, wants_json);
                state.id = Some(id.to_owned());
                Ok(state)
            }
            // Unknown or expired: never adopt an id the client chose (session fixation).
            _ => Ok(Self::fresh(shared, wants_json)),
        }
    }

    /// What to do at commit, given the session's state now.
    pub(crate) fn plan(&mut self, shared: &Shared, now_ms: u64) -> Plan {
        let mut delete = std::mem::take(&mut self.stale_ids);
        if self.destroyed {
            delete.extend(self.id.take());
            return Plan::Expire { delete };
        }
        if self.data.is_empty() {
            return if self.loaded_json.is_some() {
                // Cleared: the session is over.
                delete.extend(self.id.take());
                Plan::Expire { delete }
            } else if !delete.is_empty() {
                Plan::Expire { delete }
            } else {
                Plan::Nothing
            };
        }
        let ttl_ms = u64::try_from(self.max_age.ttl().as_millis()).unwrap_or(u64::MAX / 2);
        let changed = match &self.loaded_json {
            None => true,
            Some(loaded) => serde_json::to_string(&self.data).is_ok_and(|now| &now != loaded),
        };
        let renew_due = shared.renew && self.expires_at_ms.saturating_sub(now_ms) < ttl_ms / 2;
        let save = self.regenerated
            || changed
            || self.max_age_changed
            || self.rotate
            || shared.rolling
            || renew_due;
        if !save {
            return Plan::Nothing;
        }
        let id = shared
            .store
            .as_ref()
            .map(|_| self.id.get_or_insert_with(new_id).clone());
        let record = Record::new(
            self.data.clone(),
            now_ms.saturating_add(ttl_ms),
            self.max_age.to_millis(),
        );
        Plan::Save {
            id,
            record,
            max_age: self.max_age,
            delete,
        }
    }
}

/// What a commit does.
#[derive(Debug)]
pub(crate) enum Plan {
    /// No `Set-Cookie`, no store write.
    Nothing,
    /// Delete these store ids and expire the cookie.
    Expire { delete: Vec<String> },
    /// Save the record (under `id` for a store) and set the cookie; delete stale ids.
    Save {
        id: Option<String>,
        record: Record,
        max_age: MaxAge,
        delete: Vec<String>,
    },
}

impl Plan {
    /// Carries out the plan for the cookie store: the `Set-Cookie` value, if any.
    pub(crate) fn apply_cookie(self, shared: &Shared) -> Result<Option<HeaderValue>, SessionError> {
        match self {
            Self::Nothing => Ok(None),
            Self::Expire { .. } => shared.set_cookie("", None).map(Some),
            Self::Save {
                record, max_age, ..
            } => {
                let sealed = codec::seal(&shared.keys, &shared.name, &record)?;
                shared.set_cookie(&sealed, Some(max_age)).map(Some)
            }
        }
    }

    /// Carries out the plan with the external store: the `Set-Cookie` value, if any.
    pub(crate) async fn apply_store(
        self,
        shared: &Shared,
        store: &dyn Store,
    ) -> Result<Option<HeaderValue>, SessionError> {
        match self {
            Self::Nothing => Ok(None),
            Self::Expire { delete } => {
                for id in &delete {
                    store.destroy(id).await?;
                }
                shared.set_cookie("", None).map(Some)
            }
            Self::Save {
                id,
                record,
                max_age,
                delete,
            } => {
                let id = id.unwrap_or_else(new_id);
                store.set(&id, &record, max_age.ttl()).await?;
                for stale in &delete {
                    store.destroy(stale).await?;
                }
                shared.set_cookie(&id, Some(max_age)).map(Some)
            }
        }
    }
}

/// What the layer puts in each request's extensions: one allocation, nothing parsed.
#[derive(Clone)]
pub(crate) struct SessionSlot(Arc<Slot>);

pub(crate) struct Slot {
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: Mutex<Option<State>>,
    /// With `renew` or `rolling`: the request's session cookie, read when the request came in,
    /// so the session can be refreshed even when no handler touched it.
    pub(crate) preload: Option<(String, bool)>,
}

impl SessionSlot {
    pub(crate) fn new(shared: Arc<Shared>, preload: Option<(String, bool)>) -> Self {
        Self(Arc::new(Slot {
            shared,
            state: Mutex::new(None),
            preload,
        }))
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.0
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<State>> {
        // Every update leaves the state consistent, even if a holder panicked.
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.lock().is_some()
    }

    /// Keeps `state` unless another extraction of this request loaded one first.
    pub(crate) fn fill(&self, state: State) {
        let mut guard = self.lock();
        if guard.is_none() {
            *guard = Some(state);
        }
    }
}

/// The request's session: Egg's `ctx.session`, as an axum extractor.
///
/// Extracting it loads the session — decrypts the cookie, or fetches the record from the
/// store — once per request; a handler that does not extract it costs nothing. Reads and
/// writes are then in memory, and [`SessionLayer`](crate::SessionLayer) saves the session
/// when the response goes out, only if it must: when its content changed (not merely read),
/// on [`destroy`](Self::destroy), [`regenerate`](Self::regenerate) or
/// [`set_max_age`](Self::set_max_age), on `renew`/`rolling`, or to re-seal a cookie opened
/// with an older key. A new session left empty is never saved. The save happens whatever the
/// response's status, so a handler that fails after a write still commits it.
///
/// Concurrent requests of one client each load the session as it was when they started and
/// save it whole: the last response to be sent wins, as in Egg. Keep values that concurrent
/// requests update (counters, carts) in a database.
///
/// `Session` is a cheap handle: clones share the session.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, header};
/// use tower::ServiceExt;
/// use yolk_core::Keys;
/// use yolk_session::{Session, SessionLayer};
///
/// async fn visit(session: Session) -> String {
///     let visits: u32 = session.get("visits").unwrap().unwrap_or(0) + 1;
///     session.insert("visits", visits).unwrap();
///     format!("visit {visits}")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(visit))
///     .layer(SessionLayer::new(Keys::parse("a-long-random-secret").unwrap()));
///
/// let res = app.clone().oneshot(Request::new(Body::empty())).await.unwrap();
/// let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
/// assert!(cookie.starts_with("YOLK_SESS="));
/// assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
/// assert!(cookie.contains("Max-Age=86400"));
///
/// let cookie = cookie.split(';').next().unwrap();
/// let req = Request::get("/").header(header::COOKIE, cookie).body(Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// let body = axum::body::to_bytes(res.into_body(), 64).await.unwrap();
/// assert_eq!(body, "visit 2");
/// # }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) slot: SessionSlot,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secret: show the count only.
        let guard = self.slot.lock();
        f.debug_struct("Session")
            .field("len", &guard.as_ref().map_or(0, |state| state.data.len()))
            .finish_non_exhaustive()
    }
}

impl Session {
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.slot.lock();
        let shared = &self.slot.slot().shared;
        let state = guard.get_or_insert_with(|| State::fresh(shared, false));
        f(state)
    }

    /// The value under `key`, or `None` when there is none.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) -> Result<(), yolk_session::SessionError> {
    /// let user: Option<u64> = session.get("user_id")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Deserialize`] when the value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let value = self.with_state(|state| state.data.get(key).cloned());
        value
            .map(|value| serde_json::from_value(value))
            .transpose()
            .map_err(|source| SessionError::Deserialize {
                key: key.to_owned(),
                source,
            })
    }

    /// Sets `key` to `value`. A session in the cookie store that would no longer fit in a
    /// cookie refuses the value and stays as it was.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) -> Result<(), yolk_session::SessionError> {
    /// session.insert("user_id", 42_u64)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] when `value` cannot be JSON; [`SessionError::TooLarge`]
    /// when the cookie would exceed [`COOKIE_SIZE_LIMIT`].
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| SessionError::Serialize {
            key: key.to_owned(),
            source,
        })?;
        let shared = &self.slot.slot().shared;
        self.with_state(|state| {
            let old = state.data.insert(key.to_owned(), value);
            if shared.store.is_none() {
                let record = Record::new(
                    std::mem::take(&mut state.data),
                    now_ms(),
                    state.max_age.to_millis(),
                );
                let json_len = serde_json::to_vec(&record).map_or(0, |json| json.len());
                state.data = record.data;
                let size = codec::cookie_len(&shared.name, json_len);
                if size > COOKIE_SIZE_LIMIT {
                    match old {
                        Some(old) => state.data.insert(key.to_owned(), old),
                        None => state.data.remove(key),
                    };
                    return Err(SessionError::TooLarge {
                        size,
                        limit: COOKIE_SIZE_LIMIT,
                    });
                }
            }
            state.destroyed = false;
            Ok(())
        })
    }

    /// Removes `key`, returning its value.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) -> Result<(), yolk_session::SessionError> {
    /// let flash: Option<String> = session.remove("flash")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Deserialize`] when the value is not a `T` (it is removed all the same).
    pub fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let value = self.with_state(|state| state.data.remove(key));
        value
            .map(|value| serde_json::from_value(value))
            .transpose()
            .map_err(|source| SessionError::Deserialize {
                key: key.to_owned(),
                source,
            })
    }

    /// True when `key` has a value.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) {
    /// if !session.contains("user_id") { /* ask to log in */ }
    /// # }
    /// ```
    pub fn contains(&self, key: &str) -> bool {
        self.with_state(|state| state.data.contains_key(key))
    }

    /// True when the session holds no value.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) {
    /// let anonymous = session.is_empty();
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.with_state(|state| state.data.is_empty())
    }

    /// Removes every value. An emptied session is deleted: its cookie expires, its store
    /// entry goes.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) {
    /// session.clear();
    /// assert!(session.is_empty());
    /// # }
    /// ```
    pub fn clear(&self) {
        self.with_state(|state| state.data.clear());
    }

    /// Ends the session (Egg's `ctx.session = null`): the values go, the store entry is
    /// deleted, and the response expires the cookie. Values inserted afterwards start a new
    /// session under a new id.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn logout(session: Session) {
    /// session.destroy();
    /// # }
    /// ```
    pub fn destroy(&self) {
        self.with_state(|state| {
            state.data.clear();
            state.destroyed = true;
            if let Some(id) = state.id.take() {
                state.stale_ids.push(id);
            }
        });
    }

    /// Gives the session a new id, keeping its values, and deletes the old id from the store:
    /// call it on login, so an id planted by an attacker before login is worthless after it
    /// (session fixation). With the cookie store, the cookie is re-sealed with a fresh nonce.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn login(session: Session) -> Result<(), yolk_session::SessionError> {
    /// session.regenerate();
    /// session.insert("user_id", 42)?;
    /// # Ok(()) }
    /// ```
    pub fn regenerate(&self) {
        self.with_state(|state| {
            if let Some(id) = state.id.take() {
                state.stale_ids.push(id);
            }
            state.regenerated = true;
        });
    }

    /// Sets this session's max age, from this response on (it is kept with the session, so
    /// it holds for later requests too); the cookie is written again.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use yolk_session::{MaxAge, Session};
    /// # async fn remember_me(session: Session) {
    /// session.set_max_age(MaxAge::Duration(Duration::from_secs(30 * 24 * 3600)));
    /// # }
    /// ```
    pub fn set_max_age(&self, max_age: MaxAge) {
        self.with_state(|state| {
            state.max_age = max_age;
            state.max_age_changed = true;
        });
    }

    /// This session's max age.
    ///
    /// ```
    /// # use yolk_session::{MaxAge, Session};
    /// # async fn handler(session: Session) {
    /// let browser_session = session.max_age() == MaxAge::Session;
    /// # }
    /// ```
    pub fn max_age(&self) -> MaxAge {
        self.with_state(|state| state.max_age)
    }

    /// The id under which an external store keeps this session; `None` with the cookie store
    /// and for a session not saved yet.
    ///
    /// ```
    /// # use yolk_session::Session;
    /// # async fn handler(session: Session) {
    /// let id: Option<String> = session.id();
    /// # }
    /// ```
    pub fn id(&self) -> Option<String> {
        self.with_state(|state| state.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; YOLK_SESSX=2"));
        headers.append(COOKIE, HeaderValue::from_static(" YOLK_SESS = v ; b=3"));
        assert_eq!(find_cookie(&headers, "YOLK_SESS").as_deref(), Some("v"));
        assert_eq!(find_cookie(&headers, "c"), None);
    }

    #[test]
    fn ids() {
        let id = new_id();
        assert!(valid_id(&id), "{id}");
        assert_ne!(id, new_id());
        assert!(!valid_id("short"));
        assert!(!valid_id(&"%".repeat(ID_LEN)));
    }
}
