//! Memory stays bounded whatever the upload's size: a 200 MiB upload in stream mode, generated
//! on the fly, over a real socket, in its own test binary so that nothing else runs beside it.

mod common;

use axum::Router;
use axum::routing::post;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use yolk_multipart::{ByteSize, GIB, Limits, MIB, Multipart, MultipartLayer, MultipartRejection};

use common::{BOUNDARY, Form, read_reply};

async fn count(mut multipart: Multipart) -> Result<String, MultipartRejection> {
    let mut total = 0u64;
    while let Some(mut field) = multipart.next_field().await? {
        while let Some(chunk) = field.chunk().await? {
            total += chunk.len() as u64;
        }
    }
    Ok(total.to_string())
}

/// Peak resident memory of this process, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Uploads one file of `size` bytes, generated chunk by chunk; returns the response body.
async fn upload(addr: std::net::SocketAddr, size: u64) -> String {
    let head = Form::file_head("f", "big.zip", "application/zip");
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = head.len() as u64 + size + tail.len() as u64;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {length}\r\n\r\n{head}",
        Form::content_type()
    );
    let writing = tokio::spawn(async move {
        writer.write_all(request.as_bytes()).await?;
        let chunk = vec![b'z'; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            writer.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        writer.write_all(tail.as_bytes()).await?;
        Ok::<_, std::io::Error>(writer)
    });
    let reply = read_reply(&mut reader).await;
    writing.await.unwrap().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_upload_in_stream_mode_keeps_memory_flat() {
    let layer = MultipartLayer::new().with_limits(Limits {
        file_size: ByteSize(GIB),
        ..Limits::default()
    });
    let addr = common::serve(Router::new().route("/", post(count)).layer(layer)).await;
    // Warm up: the runtime's threads, the connection's buffers.
    assert_eq!(upload(addr, 4 * MIB).await, (4 * MIB).to_string());
    // Reset the peak to the current size, where the kernel allows it.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let Some(before) = peak_rss() else {
        eprintln!("no /proc/self/status here: memory not measured");
        return;
    };
    let size = 200 * MIB;
    assert_eq!(upload(addr, size).await, size.to_string());
    let after = peak_rss().unwrap();
    let growth = after.saturating_sub(before);
    eprintln!("peak RSS {} MiB -> {} MiB", before / MIB, after / MIB);
    assert!(
        growth < 32 * MIB,
        "peak RSS grew by {} MiB during a 200 MiB upload",
        growth / MIB
    );
}
