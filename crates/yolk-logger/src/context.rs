//! The request a log event belongs to: a task-local set by the request middleware, read by
//! the log layer to write the `[user/ip/trace/ms METHOD url]` prefix.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::time::Instant;

use http::{HeaderValue, Method, Uri};

use crate::format::{decimal, push_ip};

tokio::task_local! {
    // Boxed: a task-local is moved into its slot and back out on every poll of the request.
    pub(crate) static REQUEST: Box<RequestInfo>;
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
    /// The elapsed milliseconds once the response is out: the request line's own lines show
    /// the figure its message gives, without reading the clock again.
    pub(crate) answered_ms: Cell<Option<u64>>,
}

impl RequestInfo {
    /// Milliseconds since the request came in; once it is answered, the time it took.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.answered_ms
            .get()
            .unwrap_or_else(|| u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The elapsed milliseconds, kept as the figure of this request's remaining lines.
    pub(crate) fn answered(&self) -> u64 {
        let elapsed = self.elapsed_ms();
        self.answered_ms.set(Some(elapsed));
        elapsed
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

/// Runs `f` with the request the current task is handling, if any, and its
/// [`elapsed_ms`](RequestInfo::elapsed_ms).
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn once_answered_the_elapsed_time_stays_the_request_lines() {
        let info = RequestInfo {
            start: Instant::now() - Duration::from_millis(40),
            method: Method::GET,
            uri: Uri::from_static("/"),
            ip: None,
            trace_id: None,
            user_id: RefCell::new(None),
            answered_ms: Cell::new(None),
        };
        assert!(info.elapsed_ms() >= 40);
        let answered = info.answered();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(info.elapsed_ms(), answered);
        let mut prefix = Vec::new();
        info.write_prefix(&mut prefix, info.elapsed_ms());
        assert_eq!(prefix, format!("[-/-/-/{answered}ms GET /]").into_bytes());
    }
}
