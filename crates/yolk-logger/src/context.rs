//! The request a log event belongs to: a task-local set by the request middleware, read by
//! the log layer to write the `[user/ip/trace/ms METHOD url]` prefix.

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::time::Instant;

use http::{HeaderValue, Method, Uri};

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
    pub(crate) fn elapsed_ms(&self) -> u128 {
        self.start.elapsed().as_millis()
    }

    /// Writes `[user/ip/trace/3ms GET /path?query]`.
    pub(crate) fn write_prefix(&self, line: &mut Vec<u8>) {
        line.push(b'[');
        match &*self.user_id.borrow() {
            Some(user) => line.extend_from_slice(user.as_bytes()),
            None => line.push(b'-'),
        }
        line.push(b'/');
        match self.ip {
            Some(ip) => {
                let _ = write!(line, "{ip}");
            }
            None => line.push(b'-'),
        }
        line.push(b'/');
        match &self.trace_id {
            Some(id) => line.extend_from_slice(id.as_bytes()),
            None => line.push(b'-'),
        }
        let _ = write!(line, "/{}ms {} ", self.elapsed_ms(), self.method);
        line.extend_from_slice(self.url().as_bytes());
        line.push(b']');
    }

    /// The path and query, as Egg's `ctx.url`.
    pub(crate) fn url(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }
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
