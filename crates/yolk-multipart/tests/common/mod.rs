//! Shared helpers: multipart bodies, a raw HTTP/1.1 client over real sockets, temp dir checks.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BOUNDARY: &str = "----yolk-test-boundary";

/// A multipart body under construction.
#[derive(Debug, Default)]
pub struct Form {
    body: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    pub fn field(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        self.body.extend_from_slice(value.as_ref());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file(mut self, name: &str, file_name: &str, data: impl AsRef<[u8]>) -> Self {
        self.body
            .extend_from_slice(Self::file_head(name, file_name, "image/png").as_bytes());
        self.body.extend_from_slice(data.as_ref());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file_head(name: &str, file_name: &str, content_type: &str) -> String {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
    }

    pub fn raw(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.body.extend_from_slice(bytes.as_ref());
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }

    pub fn unfinished(self) -> Vec<u8> {
        self.body
    }
}

/// Serves `router` on 127.0.0.1:0.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// A response read off a socket.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    #[track_caller]
    pub fn assert(&self, status: u16, body: &str) -> &Self {
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, body),
            "{}",
            self.head
        );
        self
    }

    #[track_caller]
    pub fn assert_starts(&self, status: u16, body: &str) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.body.starts_with(body),
            "{:?} does not start with {body:?}",
            self.body
        );
        self
    }
}

/// How to send a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length,
    Chunked,
}

/// POSTs `body` to `path` with `Connection: close`, writing while reading, and reads the
/// response to its end.
pub async fn send(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Reply {
    send_with(addr, path, content_type, body, Framing::Length, &[]).await
}

pub async fn send_with(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
    framing: Framing,
    headers: &[(&str, &str)],
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
    );
    match framing {
        Framing::Length => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let body = body.to_vec();
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        match framing {
            Framing::Length => {
                for chunk in body.chunks(64 * 1024) {
                    writer.write_all(chunk).await?;
                }
            }
            Framing::Chunked => {
                for chunk in body.chunks(7 * 1024 + 3) {
                    writer
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .await?;
                    writer.write_all(chunk).await?;
                    writer.write_all(b"\r\n").await?;
                }
                writer.write_all(b"0\r\n\r\n").await?;
            }
        }
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let reply = read_reply(&mut reader).await;
    // The server may answer before it has read the whole body; a failed write is expected then.
    let _ = writing.await;
    reply
}

pub async fn read_reply(reader: &mut (impl AsyncReadExt + Unpin)) -> Reply {
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut raw))
        .await
        .expect("the server answers within 30 s");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        head: head.to_owned(),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Waits (up to 10 s) until `dir` holds no file.
pub async fn wait_no_files(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files = files_under(dir);
        if files.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "files left behind: {files:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
