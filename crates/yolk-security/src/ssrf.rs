//! An SSRF-safe HTTP client: [`SsrfPolicy`] decides which addresses may be reached,
//! [`SsrfConnector`] enforces it on the address actually connected to, [`SafeClient`] follows
//! redirects through it.
//!
//! Checking the connected socket's peer — not a name looked up beforehand — means a DNS answer
//! that changes between a check and the connection (DNS rebinding) gains nothing, and every
//! hop of a redirect chain is checked the same way.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ipnet::IpNet;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::config::SsrfConfig;
use crate::error::SecurityError;

/// Which addresses outgoing requests may reach.
///
/// Refused by default: loopback (`127.0.0.0/8`, `::1`), private (`10/8`, `172.16/12`,
/// `192.168/16`, `fc00::/7`), link-local (`169.254/16`, `fe80::/10`), unspecified
/// (`0.0.0.0/8`, `::`), shared (`100.64/10`), multicast and broadcast — IPv4-mapped IPv6
/// forms included — plus `ip_black_list`. `ip_exception_list` lets some through.
///
/// ```
/// use yolk_security::SsrfPolicy;
///
/// let policy = SsrfPolicy::new()
///     .with_black_list(["203.0.113.0/24"])?
///     .with_exceptions(["10.1.2.3", "127.0.0.1:8080"])?;
/// assert!(policy.check("93.184.216.34:80".parse()?).is_ok());
/// assert_eq!(policy.check("127.0.0.1:80".parse()?).unwrap_err(), "loopback");
/// assert_eq!(policy.check("[::ffff:10.0.0.1]:80".parse()?).unwrap_err(), "private");
/// assert_eq!(policy.check("203.0.113.9:80".parse()?).unwrap_err(), "black-listed");
/// assert!(policy.check("10.1.2.3:443".parse()?).is_ok());
/// assert!(policy.check("127.0.0.1:8080".parse()?).is_ok());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct SsrfPolicy {
    black_list: Vec<IpNet>,
    exceptions: Vec<Exception>,
    hostname_exceptions: Vec<String>,
}

#[derive(Clone, Debug)]
enum Exception {
    Net(IpNet),
    Socket(SocketAddr),
}

impl SsrfPolicy {
    /// The default policy: every internal range refused, no exception.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy of `[security.ssrf]`.
    ///
    /// # Errors
    ///
    /// [`SecurityError::Config`] naming the entry that is not an address, a CIDR or (for
    /// exceptions) `address:port`.
    pub fn from_config(config: &SsrfConfig) -> Result<Self, SecurityError> {
        Ok(Self::new()
            .with_black_list(&config.ip_black_list)?
            .with_exceptions(&config.ip_exception_list)?
            .with_hostname_exceptions(&config.hostname_exception_list))
    }

    /// Also refuses `entries`: CIDRs or addresses. Default: none.
    ///
    /// # Errors
    ///
    /// [`SecurityError::Config`] for an entry that is neither.
    pub fn with_black_list<I, S>(mut self, entries: I) -> Result<Self, SecurityError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = parse_net(entry).ok_or_else(|| {
                SecurityError::config(
                    "ssrf.ip_black_list",
                    format!("`{entry}` is not an address or a CIDR (`10.0.0.0/8`)"),
                )
            })?;
            self.black_list.push(net);
        }
        Ok(self)
    }

    /// Allows `entries` even when refused otherwise: CIDRs, addresses, or `address:port` for
    /// one socket (`127.0.0.1:8080`, `[::1]:8080`). Default: none.
    ///
    /// # Errors
    ///
    /// [`SecurityError::Config`] for an entry that is none of these.
    pub fn with_exceptions<I, S>(mut self, entries: I) -> Result<Self, SecurityError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for entry in entries {
            let entry = entry.as_ref().trim();
            let exception = parse_net(entry)
                .map(Exception::Net)
                .or_else(|| entry.parse().ok().map(Exception::Socket))
                .ok_or_else(|| {
                    SecurityError::config(
                        "ssrf.ip_exception_list",
                        format!(
                            "`{entry}` is not an address, a CIDR or `address:port` \
                             (`127.0.0.1:8080`)"
                        ),
                    )
                })?;
            self.exceptions.push(exception);
        }
        Ok(self)
    }

    /// Hosts (exact, case-insensitive) connected to without any address check. Default: none.
    #[must_use]
    pub fn with_hostname_exceptions<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.hostname_exceptions
            .extend(hosts.into_iter().map(|h| h.as_ref().to_ascii_lowercase()));
        self
    }

    /// `Ok` when `addr` may be reached; else the name of the range that refuses it.
    ///
    /// # Errors
    ///
    /// The range's name: `loopback`, `private`, `link-local`, `unspecified`, `shared`,
    /// `multicast`, `broadcast` or `black-listed`.
    pub fn check(&self, addr: SocketAddr) -> Result<(), &'static str> {
        let ip = addr.ip().to_canonical();
        let excepted = self.exceptions.iter().any(|exception| match exception {
            Exception::Net(net) => net.contains(&ip),
            Exception::Socket(socket) => {
                socket.ip().to_canonical() == ip && socket.port() == addr.port()
            }
        });
        if excepted {
            return Ok(());
        }
        if let Some(reason) = internal_range(ip) {
            return Err(reason);
        }
        if self.black_list.iter().any(|net| net.contains(&ip)) {
            return Err("black-listed");
        }
        Ok(())
    }

    fn host_excepted(&self, host: &str) -> bool {
        self.hostname_exceptions
            .iter()
            .any(|excepted| excepted.eq_ignore_ascii_case(host))
    }

    fn refuse(&self, host: &str, addr: SocketAddr) -> Result<(), SecurityError> {
        self.check(addr)
            .map_err(|reason| SecurityError::ForbiddenAddress {
                host: host.to_owned(),
                addr,
                reason,
            })
    }
}

fn parse_net(entry: &str) -> Option<IpNet> {
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|net| match net {
            // Compare IPv4-mapped forms as IPv4.
            IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 => {
                let v4 = v6.addr().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net)
            }
            net => net,
        })
}

fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if a == 0 {
                Some("unspecified")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared")
            } else if v4.is_multicast() || a >= 240 {
                Some(if v4.is_broadcast() {
                    "broadcast"
                } else {
                    "multicast"
                })
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6 == Ipv6Addr::from([0, 0, 0, 0, 0, 0, 0, 0]) {
                Some("unspecified")
            } else {
                None
            }
        }
    }
}

/// A hyper connector that resolves the host, skips refused addresses, connects, then checks
/// the peer address of the socket it got. Use it as [`SafeClient`]'s connector, or as the
/// inner connector of a TLS connector (`HttpsConnector::from((ssrf, tls))`) so the check runs
/// before any byte is sent.
#[derive(Clone, Debug)]
pub struct SsrfConnector {
    policy: Arc<SsrfPolicy>,
}

impl SsrfConnector {
    /// A connector enforcing `policy`.
    ///
    /// ```
    /// let connector = yolk_security::SsrfConnector::new(yolk_security::SsrfPolicy::new());
    /// # let _ = connector;
    /// ```
    pub fn new(policy: SsrfPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl Service<Uri> for SsrfConnector {
    type Response = TokioIo<TcpStream>;
    type Error = SecurityError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, SecurityError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move { connect(&policy, &uri).await.map(TokioIo::new) })
    }
}

async fn connect(policy: &SsrfPolicy, uri: &Uri) -> Result<TcpStream, SecurityError> {
    let bad = |problem: &str| SecurityError::BadUrl {
        url: uri.to_string(),
        problem: problem.to_owned(),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let exempt = policy.host_excepted(bare);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|source| SecurityError::Connect {
                host: host.to_owned(),
                source,
            })?
            .collect(),
    };
    let mut last_error = None;
    for addr in addrs {
        if !exempt && let Err(error) = policy.refuse(host, addr) {
            last_error = Some(error);
            continue;
        }
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                if !exempt {
                    let peer = stream
                        .peer_addr()
                        .map_err(|source| SecurityError::Connect {
                            host: host.to_owned(),
                            source,
                        })?;
                    policy.refuse(host, peer)?;
                }
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(source) => {
                last_error = Some(SecurityError::Connect {
                    host: host.to_owned(),
                    source,
                });
            }
        }
    }
    Err(last_error.unwrap_or_else(|| SecurityError::Connect {
        host: host.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address found"),
    }))
}

/// An HTTP client that cannot be pointed at internal addresses: every connection, including
/// each redirect hop, goes through [`SsrfConnector`].
///
/// Plain `http` out of the box; for `https`, build it with [`with_connector`]
/// (`SafeClient::with_connector(HttpsConnector::from((SsrfConnector::new(policy), tls)))`).
/// The security plugin registers one built from `[security.ssrf]`, reachable with
/// `Inject<SafeClient>`.
///
/// [`with_connector`]: Self::with_connector
///
/// ```no_run
/// use yolk_security::{SafeClient, SsrfPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), yolk_security::SecurityError> {
/// let client = SafeClient::new(SsrfPolicy::new());
/// let error = client.get("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
/// assert!(error.is_forbidden_address());
/// # Ok(())
/// # }
/// ```
pub struct SafeClient<C = SsrfConnector> {
    client: Client<C, Full<Bytes>>,
    max_redirects: usize,
}

impl<C> fmt::Debug for SafeClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeClient")
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl<C: Clone> Clone for SafeClient<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            max_redirects: self.max_redirects,
        }
    }
}

impl SafeClient {
    /// A plain-`http` client enforcing `policy`, following up to 10 redirects.
    pub fn new(policy: SsrfPolicy) -> Self {
        Self::with_connector(SsrfConnector::new(policy))
    }
}

impl<C> SafeClient<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A client over `connector`, which must check addresses as [`SsrfConnector`] does.
    pub fn with_connector(connector: C) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            max_redirects: 10,
        }
    }

    /// Sets how many redirects are followed; `0` returns the first response. Default: `10`.
    #[must_use]
    pub fn with_max_redirects(mut self, max_redirects: usize) -> Self {
        self.max_redirects = max_redirects;
        self
    }

    /// `GET url`, following redirects.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request).
    pub async fn get(&self, url: &str) -> Result<Response<Incoming>, SecurityError> {
        let request =
            Request::get(url)
                .body(Bytes::new())
                .map_err(|error| SecurityError::BadUrl {
                    url: url.to_owned(),
                    problem: error.to_string(),
                })?;
        self.request(request).await
    }

    /// Sends `request`, following redirects (`303`, and `301`/`302` after a `POST`, become a
    /// body-less `GET`; credentials are dropped when the host changes).
    ///
    /// # Errors
    ///
    /// [`SecurityError::ForbiddenAddress`] when a hop would reach a refused address,
    /// [`SecurityError::TooManyRedirects`], [`SecurityError::BadUrl`] for an unusable
    /// location, [`SecurityError::Connect`] or [`SecurityError::Http`] when the exchange fails.
    pub async fn request(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Incoming>, SecurityError> {
        let (mut parts, mut body) = request.into_parts();
        let mut redirects = 0;
        loop {
            let uri = parts.uri.clone();
            let mut outgoing = Request::new(Full::new(body.clone()));
            *outgoing.method_mut() = parts.method.clone();
            *outgoing.uri_mut() = uri.clone();
            *outgoing.headers_mut() = parts.headers.clone();
            let response = self
                .client
                .request(outgoing)
                .await
                .map_err(|error| client_error(&uri, error))?;
            let status = response.status();
            let Some(location) = response
                .headers()
                .get(LOCATION)
                .filter(|_| status.is_redirection() && self.max_redirects > 0)
            else {
                return Ok(response);
            };
            redirects += 1;
            let next = resolve(&uri, location.to_str().unwrap_or_default())?;
            if redirects > self.max_redirects {
                return Err(SecurityError::TooManyRedirects {
                    limit: self.max_redirects,
                    url: next.to_string(),
                });
            }
            if status == StatusCode::SEE_OTHER
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && parts.method == Method::POST)
            {
                parts.method = Method::GET;
                body = Bytes::new();
                parts.headers.remove(http::header::CONTENT_TYPE);
                parts.headers.remove(http::header::CONTENT_LENGTH);
            }
            if next.host() != uri.host() {
                for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
                    parts.headers.remove(name);
                }
            }
            parts.uri = next;
        }
    }
}

/// The next URI of a redirect: `location` resolved against `base`, `http(s)` only.
fn resolve(base: &Uri, location: &str) -> Result<Uri, SecurityError> {
    let bad = |problem: &str| SecurityError::BadUrl {
        url: location.to_owned(),
        problem: problem.to_owned(),
    };
    let base = url::Url::parse(&base.to_string()).map_err(|e| bad(&e.to_string()))?;
    let next = base.join(location).map_err(|e| bad(&e.to_string()))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(bad("redirect to a scheme other than http or https"));
    }
    next.as_str().parse().map_err(|_| bad("not a valid URI"))
}

/// Our own error when the connector refused, else the client's.
fn client_error(uri: &Uri, error: hyper_util::client::legacy::Error) -> SecurityError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(SecurityError::ForbiddenAddress { host, addr, reason }) =
            current.downcast_ref::<SecurityError>()
        {
            return SecurityError::ForbiddenAddress {
                host: host.clone(),
                addr: *addr,
                reason,
            };
        }
        source = current.source();
    }
    SecurityError::Http {
        url: uri.to_string(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for (addr, reason) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("10.9.8.7", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fd00::1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("100.64.0.1", "shared"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:192.168.0.1", "private"),
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(
                SsrfPolicy::new().check(SocketAddr::new(ip, 80)),
                Err(reason),
                "{addr}"
            );
        }
        for addr in [
            "93.184.216.34",
            "172.32.0.1",
            "2606:4700::1111",
            "100.128.0.1",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(
                SsrfPolicy::new().check(SocketAddr::new(ip, 80)),
                Ok(()),
                "{addr}"
            );
        }
    }

    #[test]
    fn bad_entries_name_their_list() {
        let error = SsrfPolicy::new()
            .with_black_list(["10.0.0.0/33"])
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("security.ssrf.ip_black_list: `10.0.0.0/33`")
        );
        let error = SsrfPolicy::new()
            .with_exceptions(["localhost"])
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("security.ssrf.ip_exception_list:")
        );
    }

    #[test]
    fn redirects_resolve_relative_locations_and_refuse_other_schemes() {
        let base: Uri = "http://a.test/x/y".parse().unwrap();
        assert_eq!(resolve(&base, "/z").unwrap().to_string(), "http://a.test/z");
        assert_eq!(
            resolve(&base, "z").unwrap().to_string(),
            "http://a.test/x/z"
        );
        assert!(resolve(&base, "file:///etc/passwd").is_err());
        assert!(resolve(&base, "gopher://a.test/").is_err());
    }
}
