//! yolk-multipart's benchmarks.
//!
//! Three ways to run it:
//!
//! - `multipart [--port P] [--exit-on-stdin-eof]`: `GET /` → `Hello, yolk` behind
//!   `MultipartLayer`, for the cost of the layer on requests that are not uploads;
//! - `multipart --upload-server yolk|multer --dir D [--port P] [--exit-on-stdin-eof]`:
//!   `POST /upload` saves every file of a multipart body under `D` and answers its size — with
//!   yolk-multipart's file mode, or with bare `multer` writing each chunk through
//!   `tokio::fs::File` the same way;
//! - `multipart --upload-bench [--mib N (1024)] [--rounds R (3)]`: starts each upload server
//!   in turn as a child process, uploads N MiB generated on the fly over 127.0.0.1, and prints
//!   MB/s and the growth of the server's peak RSS (`VmHWM`, reset after a warm-up upload), then
//!   one JSON line:
//!   `{"upload_mib":..,"multer_mbps":..,"yolk_mbps":..,"ratio":..,"multer_rss_growth_mib":..,"yolk_rss_growth_mib":..}`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use tokio::io::AsyncWriteExt;
use yolk_multipart::{ByteSize, GIB, Limits, MIB, Multipart, MultipartLayer, MultipartRejection};

const BOUNDARY: &str = "yolk-bench-boundary";

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("multipart: {message}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--upload-bench") {
        upload_bench(&args).unwrap_or_else(|error| fail(error));
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| fail(error));
    runtime.block_on(serve(args));
}

/// Takes `--name VALUE` out of `args`.
fn take_value(args: &mut Vec<String>, name: &str) -> Option<String> {
    let at = args.iter().position(|arg| arg == name)?;
    if at + 1 >= args.len() {
        fail(format!("`{name}` needs a value"));
    }
    let value = args.remove(at + 1);
    args.remove(at);
    Some(value)
}

async fn serve(mut args: Vec<String>) {
    let upload = take_value(&mut args, "--upload-server");
    let dir = take_value(&mut args, "--dir").map(PathBuf::from);
    let app = match (upload.as_deref(), dir) {
        (None, _) => Router::new()
            .route("/", get(|| async { "Hello, yolk" }))
            .layer(MultipartLayer::new()),
        (Some("yolk"), Some(dir)) => Router::new()
            .route("/upload", post(with_yolk))
            .layer(MultipartLayer::new().with_tmpdir(dir)),
        (Some("multer"), Some(dir)) => Router::new().route(
            "/upload",
            post(move |request| with_multer(request, dir.clone())),
        ),
        _ => fail("expected --upload-server yolk|multer --dir D"),
    };
    let listener = listen(args).await.unwrap_or_else(|error| fail(error));
    if let Err(error) = axum::serve(listener, app).await {
        fail(error);
    }
}

/// `yolk_bench::listen`, on the arguments left once this binary's own are taken out.
async fn listen(args: Vec<String>) -> Result<tokio::net::TcpListener, String> {
    let args = yolk_bench::ServerArgs::parse(args)?;
    let address = std::net::SocketAddr::from((yolk_bench::LOOPBACK, args.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| format!("cannot bind {address}: {err}"))?;
    let port = listener.local_addr().map_err(|err| err.to_string())?.port();
    if args.exit_on_stdin_eof {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    println!("{}{port}", yolk_bench::LISTENING_PREFIX);
    Ok(listener)
}

/// yolk-multipart's file mode, with room for a 2 GiB file.
async fn with_yolk(mut multipart: Multipart) -> Result<String, MultipartRejection> {
    multipart.set_limits(Limits {
        file_size: ByteSize(2 * GIB),
        ..Limits::default()
    });
    let upload = multipart.save_files().await?;
    let size: u64 = upload.files.iter().map(|file| file.size()).sum();
    Ok(size.to_string())
    // `upload` is dropped here: the temp files are removed.
}

/// Bare multer: each file written chunk by chunk through `tokio::fs::File`, then removed.
async fn with_multer(request: Request, dir: PathBuf) -> Result<String, (StatusCode, String)> {
    let bad = |error: &dyn std::fmt::Display| (StatusCode::BAD_REQUEST, error.to_string());
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|e| bad(&e))?;
    let mut multipart = multer::Multipart::new(request.into_body().into_data_stream(), boundary);
    let mut total = 0u64;
    let mut n = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| bad(&e))? {
        n += 1;
        let path = dir.join(format!("multer-{}-{n}", std::process::id()));
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| bad(&e))?;
        while let Some(chunk) = field.chunk().await.map_err(|e| bad(&e))? {
            total += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| bad(&e))?;
        }
        file.flush().await.map_err(|e| bad(&e))?;
        drop(file);
        let _ = std::fs::remove_file(&path);
    }
    Ok(total.to_string())
}

/// An upload server started as a child process, killed when dropped.
struct UploadServer {
    child: Child,
    port: u16,
}

impl UploadServer {
    fn start(kind: &str, dir: &Path) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--upload-server", kind, "--dir"])
            .arg(dir)
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {kind} upload server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let port = yolk_bench::parse_listening_line(&line)
            .ok_or_else(|| format!("the {kind} upload server printed {line:?}"))?;
        Ok(Self { child, port })
    }

    /// Peak resident memory, in bytes.
    fn peak_rss(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| format!("cannot read the server's /proc status: {e}"))?;
        let kb: u64 = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse().ok())
            .ok_or("no VmHWM in the server's /proc status")?;
        Ok(kb * 1024)
    }

    /// Resets the peak to the current size (Linux 4.0+).
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}

impl Drop for UploadServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Uploads one file of `size` bytes to `port`; returns the seconds from the first byte sent
/// to the end of the response.
fn upload(port: u16, size: u64) -> Result<f64, String> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = head.len() as u64 + size + tail.len() as u64;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    write!(
        stream,
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n{head}"
    )
    .map_err(|e| e.to_string())?;
    let chunk = vec![b'z'; 256 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    stream
        .write_all(tail.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if !response.starts_with("HTTP/1.1 200") || !response.ends_with(&size.to_string()) {
        return Err(format!("upload failed: {response}"));
    }
    Ok(seconds)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Writes back every dirty page of the machine (`sync(1)`); best effort.
fn flush_disk_cache() {
    let _ = Command::new("sync").status();
}

fn upload_bench(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    args.retain(|arg| arg != "--upload-bench");
    let number = |value: Option<String>, default: u64| -> Result<u64, String> {
        value.map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("expected a number, got `{v}`"))
        })
    };
    let mib = number(take_value(&mut args, "--mib"), 1024)?;
    let rounds = number(take_value(&mut args, "--rounds"), 3)?.max(1);
    if let Some(other) = args.first() {
        return Err(format!("unknown argument `{other}`"));
    }
    let dir = std::env::temp_dir().join(format!("yolk-bench-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let size = mib * MIB;
    let kinds = ["multer", "yolk"];
    let mut mbps: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut growth: [u64; 2] = [0, 0];
    let result = (|| {
        for round in 1..=rounds {
            // Each round swaps who goes first, so neither always inherits the other's cache state.
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for i in order {
                let kind = kinds[i];
                let server = UploadServer::start(kind, &dir)?;
                upload(server.port, 8 * MIB)?;
                server.reset_peak();
                // The previous upload's pages may still be waiting to be written back; flush them
                // now, or this run pays for that run's writes.
                flush_disk_cache();
                let before = server.peak_rss()?;
                let seconds = upload(server.port, size)?;
                let after = server.peak_rss()?;
                let rate = size as f64 / 1e6 / seconds;
                let grew = after.saturating_sub(before);
                println!(
                    "    round {round}/{rounds}  {kind:<7} {mib} MiB in {seconds:.2} s = {rate:>7.1} MB/s, server peak RSS {} -> {} MiB",
                    before / MIB,
                    after / MIB
                );
                mbps[i].push(rate);
                growth[i] = growth[i].max(grew);
            }
        }
        Ok::<_, String>(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let multer = median(&mut mbps[0]);
    let yolk = median(&mut mbps[1]);
    println!(
        "\nupload of {mib} MiB to disk: bare multer {multer:.1} MB/s, yolk-multipart {yolk:.1} MB/s = {:.3}x; \
         server peak RSS growth: multer {} MiB, yolk {} MiB",
        yolk / multer,
        growth[0] / MIB,
        growth[1] / MIB
    );
    println!(
        "{{\"upload_mib\":{mib},\"multer_mbps\":{multer:.1},\"yolk_mbps\":{yolk:.1},\"ratio\":{:.3},\"multer_rss_growth_mib\":{:.1},\"yolk_rss_growth_mib\":{:.1}}}",
        yolk / multer,
        growth[0] as f64 / MIB as f64,
        growth[1] as f64 / MIB as f64
    );
    Ok(())
}
