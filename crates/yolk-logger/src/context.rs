//! The request a log event belongs to: a task-local set by the request middleware, read by
//! the log layer to write the `[user/ip/trace/ms METHOD url]` prefix.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Instant;

use http::{HeaderValue, Method, Uri};

use crate::format::{decimal, push_ip};

tokio::task_local! {
    pub(crate) static REQUEST: RequestInfo;
}

/// What the prefix of a line inside a request shows.
#[derive(Debug)]
pub(crate) struct RequestInfo {
    pub(crate) start: Instant,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) trace_id: Option<HeaderValue>,
    pub(crate) user_id: RefCell<Option<String>>,
}

impl RequestInfo {
    /// Milliseconds since the request came in.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Writes `[user/ip/trace/3ms GET /path?query]`, `elapsed_ms` being the `3`.
    pub(crate) fn write_prefix(&self, line: &mut Vec<u8>, elapsed_ms: u64) {
        line.push(b'[');
        match &*self.user_id.borrow() {
            Some(user) => line.extend_from_slice(user.as_bytes()),
            None => line.push(b'-'),
        }
        line.push(b'/');
        match self.ip {
            Some(ip) => push_ip(line, ip),
            None => line.push(b'-'),
        }
        line.push(b'/');
        match &self.trace_id {
            Some(id) => line.extend_from_slice(id.as_bytes()),
            None => line.push(b'-'),
        }
        line.push(b'/');
        line.extend_from_slice(decimal(elapsed_ms).as_bytes());
        line.extend_from_slice(b"ms ");
        line.extend_from_slice(self.method.as_str().as_bytes());
        line.push(b' ');
        line.extend_from_slice(self.url().as_bytes());
        line.push(b']');
    }

    /// The path and query, as Egg's `ctx.url`.
    pub(crate) fn url(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }
}

/// Runs `f` with the request the current task is handling, if any, and the milliseconds since
/// it came in.
pub(crate) fn with_request<R>(mut f: impl FnMut(Option<(&RequestInfo, u64)>) -> R) -> R {
    REQUEST
        .try_with(|info| f(Some((info, info.elapsed_ms()))))
        .unwrap_or_else(|_| f(None))
}

/// Sets the user id shown in the prefix of this request's lines (Egg's `ctx.userId`).
///
/// Returns `false` outside a request logged by [`RequestLogLayer`](crate::RequestLogLayer).
///
/// ```
/// assert!(!yolk_logger::set_user_id("ada"));
/// ```
pub fn set_user_id(user_id: impl Into<String>) -> bool {
    REQUEST
        .try_with(|info| *info.user_id.borrow_mut() = Some(user_id.into()))
        .is_ok()
}
