//! What Egg users read off `ctx`: the client's IP, the protocol, the host, and whether the
//! client wants JSON, aware of a reverse proxy when `proxy = true`.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use axum::extract::ConnectInfo;
//! use http::Request;
//! use yolk_core::request::{client_ip, ProxyConfig};
//!
//! let mut request = Request::get("/")
//!     .header("x-forwarded-for", "203.0.113.9, 10.0.0.2")
//!     .body(())?;
//! request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
//! let (parts, ()) = request.into_parts();
//!
//! let direct = ProxyConfig::default();
//! assert_eq!(client_ip(&parts, &direct), Some(IpAddr::from([10, 0, 0, 1])));
//! let behind_proxy = ProxyConfig { proxy: true, max_ips_count: 0 };
//! assert_eq!(client_ip(&parts, &behind_proxy), Some(IpAddr::from([203, 0, 113, 9])));
//! # Ok::<_, http::Error>(())
//! ```

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, HOST};
use http::request::Parts;
use http::{HeaderMap, StatusCode};

/// Whether to trust a reverse proxy's `X-Forwarded-*` headers (Egg's `proxy` and
/// `maxIpsCount`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Trust `X-Forwarded-For`, `-Proto` and `-Host`. Default: `false`.
    pub proxy: bool,
    /// How many `X-Forwarded-For` entries to trust from the right; `0` trusts all.
    /// Default: `0`.
    pub max_ips_count: usize,
}

/// The client's IP: the socket's peer, or with `proxy`, the leftmost trusted
/// `X-Forwarded-For` entry.
pub fn client_ip(parts: &Parts, proxy: &ProxyConfig) -> Option<IpAddr> {
    if proxy.proxy
        && let Some(&ip) = forwarded_ips(&parts.headers, proxy.max_ips_count).first()
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// With `proxy`, the trusted `X-Forwarded-For` entries, client first (Egg's `ctx.ips`).
pub fn forwarded_ips(headers: &HeaderMap, max_ips_count: usize) -> Vec<IpAddr> {
    let ips: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    let skip = match max_ips_count {
        0 => 0,
        count => ips.len().saturating_sub(count),
    };
    ips[skip..].to_vec()
}

/// `https` or `http`: with `proxy`, from `X-Forwarded-Proto`; else from the request URI.
pub fn protocol<'a>(parts: &'a Parts, proxy: &ProxyConfig) -> &'a str {
    if proxy.proxy
        && let Some(forwarded) = first_value(&parts.headers, "x-forwarded-proto")
    {
        return forwarded;
    }
    parts.uri.scheme_str().unwrap_or("http")
}

/// The host the client asked for: with `proxy`, from `X-Forwarded-Host`; else `Host`, else
/// the URI's authority.
pub fn host<'a>(parts: &'a Parts, proxy: &ProxyConfig) -> Option<&'a str> {
    if proxy.proxy
        && let Some(forwarded) = first_value(&parts.headers, "x-forwarded-host")
    {
        return Some(forwarded);
    }
    parts
        .headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str()))
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// True when the client prefers JSON to HTML (Egg's `ctx.acceptJSON`): the path ends in
/// `.json`, or `Accept` ranks `application/json` (or `+json`) above `text/html`.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::ACCEPT};
/// use yolk_core::request::accepts_json;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
/// assert!(accepts_json(&headers, "/users"));
/// headers.insert(ACCEPT, HeaderValue::from_static("text/html,application/json;q=0.9"));
/// assert!(!accepts_json(&headers, "/users"));
/// assert!(accepts_json(&HeaderMap::new(), "/users.json"));
/// ```
pub fn accepts_json(headers: &HeaderMap, path: &str) -> bool {
    if path.ends_with(".json") {
        return true;
    }
    let mut json = 0.0_f32;
    let mut html = 0.0_f32;
    for range in headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut pieces = range.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = pieces
            .filter_map(|param| param.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if media == "application/json" || media.ends_with("+json") {
            json = json.max(quality);
        } else if media == "text/html" {
            html = html.max(quality);
        }
    }
    json > 0.0 && json > html
}

macro_rules! request_extractor {
    ($(#[$doc:meta])* $name:ident($inner:ty), |$parts:ident, $proxy:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl<S> FromRequestParts<S> for $name
        where
            ProxyConfig: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = Infallible;

            async fn from_request_parts($parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
                let $proxy = ProxyConfig::from_ref(state);
                Ok(Self($body))
            }
        }
    };
}

request_extractor!(
    /// The request's protocol, `http` or `https`: see [`protocol`].
    Protocol(String),
    |parts, proxy| protocol(parts, &proxy).to_owned()
);

request_extractor!(
    /// The host the client asked for, empty when unknown: see [`host`].
    Host(String),
    |parts, proxy| host(parts, &proxy).unwrap_or_default().to_owned()
);

request_extractor!(
    /// Whether the client prefers JSON: see [`accepts_json`].
    AcceptsJson(bool),
    |parts, _proxy| accepts_json(&parts.headers, parts.uri.path())
);

/// The client's IP: see [`client_ip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    ProxyConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = UnknownPeer;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UnknownPeer> {
        client_ip(parts, &ProxyConfig::from_ref(state))
            .map(Self)
            .ok_or(UnknownPeer)
    }
}

/// [`ClientIp`] found neither a trusted `X-Forwarded-For` nor the peer's address.
#[derive(Debug, thiserror::Error)]
#[error(
    "`ClientIp` needs the peer address: serve the router with \
     `into_make_service_with_connect_info::<SocketAddr>()` (yolk's `listen` does)"
)]
pub struct UnknownPeer;

impl IntoResponse for UnknownPeer {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::get("/x");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
        request.into_parts().0
    }

    #[test]
    fn max_ips_count_trusts_only_the_rightmost_entries() {
        let parts = parts(&[("x-forwarded-for", "1.1.1.1, 2.2.2.2, 3.3.3.3")]);
        let ip = |max_ips_count| {
            client_ip(
                &parts,
                &ProxyConfig {
                    proxy: true,
                    max_ips_count,
                },
            )
            .unwrap()
        };
        assert_eq!(ip(0), IpAddr::from([1, 1, 1, 1]));
        assert_eq!(ip(1), IpAddr::from([3, 3, 3, 3]));
        assert_eq!(ip(2), IpAddr::from([2, 2, 2, 2]));
        assert_eq!(ip(9), IpAddr::from([1, 1, 1, 1]));
    }

    #[test]
    fn forwarded_headers_are_ignored_without_proxy() {
        let parts = parts(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("host", "app.example"),
        ]);
        let direct = ProxyConfig::default();
        assert_eq!(
            client_ip(&parts, &direct),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        assert_eq!(protocol(&parts, &direct), "http");
        assert_eq!(host(&parts, &direct), Some("app.example"));
        let proxied = ProxyConfig {
            proxy: true,
            max_ips_count: 0,
        };
        assert_eq!(protocol(&parts, &proxied), "https");
        assert_eq!(host(&parts, &proxied), Some("evil.example"));
    }

    #[test]
    fn garbage_forwarded_for_falls_back_to_the_peer() {
        let parts = parts(&[("x-forwarded-for", "not-an-ip, , ::zz")]);
        let proxied = ProxyConfig {
            proxy: true,
            max_ips_count: 0,
        };
        assert_eq!(
            client_ip(&parts, &proxied),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
    }

    #[test]
    fn accept_negotiation() {
        let accepts = |accept: &str| accepts_json(&parts(&[("accept", accept)]).headers, "/x");
        assert!(accepts("application/json, text/plain, */*"));
        assert!(accepts("application/problem+json"));
        assert!(!accepts("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(accepts("text/html;q=0.5, application/json"));
        assert!(!accepts("*/*"));
        assert!(!accepts(""));
    }
}
