//! [`RequestHead`]: what the layer keeps of a request to answer its error, and
//! [`ResponseKind`]: the kind of body the client gets.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use yolk_core::request::{ProxyConfig, accepts_json, forwarded_ips};

/// The kind of body an error is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseKind {
    /// `application/json`: `{"code": .., "message": ..}`.
    Json,
    /// `text/html`: a developer page, or a plain page in production.
    Html,
    /// `text/plain`: the message.
    Text,
}

/// What the layer keeps of a request, taken before the handler runs: the method, the URI, the
/// headers that choose the body, the peer, the start time; all headers only when details are
/// on.
///
/// Built for each request, so it holds only cheap clones.
#[derive(Clone, Debug)]
pub struct RequestHead {
    method: Method,
    uri: Uri,
    accept: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    forwarded_for: Option<HeaderValue>,
    headers: Option<HeaderMap>,
    peer: Option<SocketAddr>,
    proxy: ProxyConfig,
    started: Instant,
}

impl RequestHead {
    /// Takes what an error response needs from `request`; all headers when `all_headers`.
    ///
    /// ```
    /// use yolk_core::request::ProxyConfig;
    /// use yolk_onerror::{RequestHead, ResponseKind};
    ///
    /// let request = http::Request::get("/users.json").body(()).unwrap();
    /// let head = RequestHead::new(&request, false, ProxyConfig::default());
    /// assert_eq!(head.path(), "/users.json");
    /// assert_eq!(head.preferred_kind(), ResponseKind::Json);
    /// assert!(head.headers().is_none());
    /// ```
    pub fn new<B>(request: &Request<B>, all_headers: bool, proxy: ProxyConfig) -> Self {
        let headers = request.headers();
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            accept: headers.get(ACCEPT).cloned(),
            content_type: headers.get(CONTENT_TYPE).cloned(),
            forwarded_for: if proxy.proxy {
                headers.get("x-forwarded-for").cloned()
            } else {
                None
            },
            headers: all_headers.then(|| headers.clone()),
            peer: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| *peer),
            proxy,
            started: Instant::now(),
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URI as the handler saw it.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The path.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The `Accept` header.
    pub fn accept(&self) -> Option<&HeaderValue> {
        self.accept.as_ref()
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }

    /// Every header, when details are on (they cost a copy per request).
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_ref()
    }

    /// The client's IP: the peer, or behind a trusted proxy the `X-Forwarded-For` client.
    pub fn client_ip(&self) -> Option<IpAddr> {
        if let Some(forwarded) = &self.forwarded_for {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", forwarded.clone());
            if let Some(&ip) = forwarded_ips(&headers, self.proxy.max_ips_count).first() {
                return Some(ip);
            }
        }
        self.peer.map(|peer| peer.ip())
    }

    /// Time since the layer saw the request.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Egg's log prefix: `-/127.0.0.1/-/3ms GET /path` (user, IP, trace id, time, method, URL).
    pub fn log_prefix(&self) -> String {
        let ip = self
            .client_ip()
            .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        format!(
            "-/{ip}/-/{}ms {} {}",
            self.elapsed().as_millis(),
            self.method,
            self.uri
        )
    }

    /// The default choice: JSON when the client accepts JSON (`Accept` ranks it above HTML, or
    /// the path ends in `.json`) or sent JSON without asking for HTML; text when `Accept` asks
    /// for `text/plain` and not HTML; HTML otherwise.
    ///
    /// ```
    /// use yolk_core::request::ProxyConfig;
    /// use yolk_onerror::{RequestHead, ResponseKind};
    ///
    /// let kind = |accept: &str, content_type: &str| {
    ///     let request = http::Request::post("/x")
    ///         .header("accept", accept)
    ///         .header("content-type", content_type)
    ///         .body(())
    ///         .unwrap();
    ///     RequestHead::new(&request, false, ProxyConfig::default()).preferred_kind()
    /// };
    /// assert_eq!(kind("application/json", ""), ResponseKind::Json);
    /// assert_eq!(kind("*/*", "application/json"), ResponseKind::Json);
    /// assert_eq!(kind("text/html", "application/json"), ResponseKind::Html);
    /// assert_eq!(kind("text/plain", ""), ResponseKind::Text);
    /// assert_eq!(kind("*/*", ""), ResponseKind::Html);
    /// ```
    pub fn preferred_kind(&self) -> ResponseKind {
        let mut headers = HeaderMap::new();
        if let Some(accept) = &self.accept {
            headers.insert(ACCEPT, accept.clone());
        }
        if accepts_json(&headers, self.path()) {
            return ResponseKind::Json;
        }
        let accept = self
            .accept
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let asks_html = accept.contains("text/html");
        let sent_json = self
            .content_type
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                let media = value.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/json") || media.ends_with("+json")
            });
        if sent_json && !asks_html {
            ResponseKind::Json
        } else if accept.contains("text/plain") && !asks_html {
            ResponseKind::Text
        } else {
            ResponseKind::Html
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_and_peer() {
        let mut request = Request::get("/a?b=1")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .body(())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 9))));
        let direct = RequestHead::new(&request, false, ProxyConfig::default());
        assert_eq!(direct.client_ip(), Some(IpAddr::from([10, 0, 0, 2])));
        assert!(direct.log_prefix().starts_with("-/10.0.0.2/-/"));
        assert!(direct.log_prefix().ends_with("ms GET /a?b=1"));
        let proxied = RequestHead::new(
            &request,
            true,
            ProxyConfig {
                proxy: true,
                max_ips_count: 0,
            },
        );
        assert_eq!(proxied.client_ip(), Some(IpAddr::from([203, 0, 113, 7])));
        assert_eq!(proxied.headers().map(HeaderMap::len), Some(1));
    }
}
