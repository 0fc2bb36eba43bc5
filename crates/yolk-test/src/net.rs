//! Real sockets on 127.0.0.1: a free port, and `GET` over HTTP/1.1 on a fresh connection, for
//! tests of a server running in another process (or on another thread).
//!
//! Each request opens its own connection with `Connection: close` and reads to the end, so a
//! test sees exactly what one browser request would, and a request that a restarting server
//! drops shows up as an error instead of being retried.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a request may wait to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may wait for each read or write: generous, as a loaded machine can be
/// slow, yet bounded, so a server that hangs fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that was free when asked: bound to port 0, read back, released.
///
/// Another process may take it before the caller binds it; it is for a program under test
/// that must be told its port (`--port`), where a listener on port 0 cannot be passed.
///
/// ```
/// let port = yolk_test::net::free_port()?;
/// assert_ne!(port, 0);
/// std::net::TcpListener::bind(("127.0.0.1", port))?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The I/O error of binding a socket on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A response read off the wire by [`get`].
///
/// ```
/// # use std::io::{Read, Write};
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let address = listener.local_addr()?.to_string();
/// # std::thread::spawn(move || {
/// #     let (mut stream, _) = listener.accept().unwrap();
/// #     let mut request = [0; 1024];
/// #     let _ = stream.read(&mut request).unwrap();
/// #     stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nNot Found").unwrap();
/// # });
/// let response = yolk_test::net::get(&address, "/nowhere")?;
/// assert_eq!(response.status, 404);
/// assert!(response.head.starts_with("HTTP/1.1 404 Not Found\r\n"));
/// assert_eq!(response.header("Content-Length"), Some("9"));
/// assert_eq!(response.body, "Not Found");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line and the headers, without the blank line that ends them.
    pub head: String,
    /// The body as sent (not decoded from chunked transfer encoding), lossily as UTF-8.
    pub body: String,
}

impl Response {
    /// Every value of the header `name` (in any case), in order, e.g. each `Set-Cookie`.
    ///
    /// ```
    /// let response = yolk_test::net::Response {
    ///     status: 200,
    ///     head: "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nSet-Cookie: b=2".into(),
    ///     body: String::new(),
    /// };
    /// assert_eq!(response.headers("set-cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
    /// ```
    pub fn headers<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.head.lines().skip(1).filter_map(move |line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The first value of the header `name` (in any case).
    ///
    /// ```
    /// let response = yolk_test::net::Response {
    ///     status: 200,
    ///     head: "HTTP/1.1 200 OK\r\ncontent-type: text/plain".into(),
    ///     body: String::new(),
    /// };
    /// assert_eq!(response.header("Content-Type"), Some("text/plain"));
    /// assert_eq!(response.header("location"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }
}

/// `GET path` on `address` (`host:port`) over HTTP/1.1, on a fresh connection with
/// `Connection: close`.
///
/// The connection waits at most 10 s to open, and 30 s for each read and write.
///
/// ```
/// # use std::io::{Read, Write};
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let address = listener.local_addr()?.to_string();
/// std::thread::spawn(move || {
///     let (mut stream, _) = listener.accept().unwrap();
///     let mut request = [0; 1024];
///     let n = stream.read(&mut request).unwrap();
///     assert!(request[..n].starts_with(b"GET /hello HTTP/1.1\r\n"));
///     stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi").unwrap();
/// });
/// let response = yolk_test::net::get(&address, "/hello")?;
/// assert_eq!((response.status, response.body.as_str()), (200, "hi"));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The I/O error of resolving, connecting, writing or reading (a refused connection, a
/// timeout), or an error of kind `Other` naming what was read when that is no HTTP response.
pub fn get(address: &str, path: &str) -> std::io::Result<Response> {
    get_with(address, path, &[])
}

/// As [`get`], with `headers` added to the request.
///
/// ```
/// # use std::io::{Read, Write};
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let address = listener.local_addr()?.to_string();
/// std::thread::spawn(move || {
///     let (mut stream, _) = listener.accept().unwrap();
///     let mut request = [0; 1024];
///     let n = stream.read(&mut request).unwrap();
///     let request = String::from_utf8_lossy(&request[..n]);
///     let accept = request.lines().find_map(|line| line.strip_prefix("Accept: ")).unwrap();
///     write!(stream, "HTTP/1.1 200 OK\r\n\r\n{accept}").unwrap();
/// });
/// let response = yolk_test::net::get_with(&address, "/", &[("Accept", "text/html")])?;
/// assert_eq!(response.body, "text/html");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// As [`get`].
pub fn get_with(address: &str, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    let socket = address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::other(format!("`{address}` resolves to no socket address"))
    })?;
    let mut stream = TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        // Writing to a `String` cannot fail.
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::other(format!("GET {path}: incomplete response {response:?}"))
    })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("GET {path}: bad status line in {head:?}")))?;
    Ok(Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}
