//! `MultipartLayer` and the extractors in a plain axum router, over real sockets on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use common::{BOUNDARY, Form, Framing, files_under, send, send_with, wait_no_files};
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tower_http::catch_panic::CatchPanicLayer;
use yolk_multipart::{
    ByteSize, KIB, Limits, MIB, Multipart, MultipartLayer, MultipartRejection, Upload, Whitelist,
};

/// Stream mode: one line per part, in order.
async fn stream(mut multipart: Multipart) -> Result<String, MultipartRejection> {
    let mut lines = Vec::new();
    while let Some(mut field) = multipart.next_field().await? {
        if field.is_file() {
            let head = format!(
                "file {} {} {}",
                field.name(),
                field.file_name().unwrap(),
                field.content_type().unwrap_or("-")
            );
            let mut size = 0;
            while let Some(chunk) = field.chunk().await? {
                size += chunk.len();
            }
            lines.push(format!("{head} {size}"));
        } else {
            let name = field.name().to_owned();
            lines.push(format!("field {name}={}", field.text().await?));
        }
    }
    Ok(lines.join("\n"))
}

/// File mode: the fields, then each file with its path under the temp dir and its size.
async fn files(upload: Upload) -> String {
    let mut lines: Vec<String> = upload
        .fields
        .iter()
        .map(|(name, value)| format!("field {name}={}", value.len()))
        .collect();
    for file in &upload.files {
        let on_disk = std::fs::metadata(file.path()).unwrap().len();
        assert_eq!(on_disk, file.size());
        lines.push(format!(
            "file {} {} {} {} {}",
            file.field(),
            file.file_name(),
            file.content_type(),
            file.size(),
            file.path().display()
        ));
    }
    lines.join("\n")
}

async fn optional(upload: Option<Upload>) -> String {
    upload.map_or_else(
        || "none".to_owned(),
        |upload| upload.fields.len().to_string(),
    )
}

async fn fail(upload: Upload) -> StatusCode {
    assert!(!upload.files.is_empty());
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn explode(upload: Upload) -> StatusCode {
    assert!(!upload.files.is_empty());
    panic!("the handler fails after the upload");
}

async fn keep(upload: Upload) -> String {
    let file = upload.files.into_iter().next().unwrap();
    file.keep().display().to_string()
}

/// Limits set per handler: files of at most 16 bytes.
async fn tiny(mut multipart: Multipart) -> Result<String, MultipartRejection> {
    multipart.set_limits(Limits {
        file_size: ByteSize(16),
        ..Limits::default()
    });
    let upload = multipart.save_files().await?;
    Ok(upload.files.len().to_string())
}

/// Reads the body in a middleware, then lets the handler read it again.
async fn read_first(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let first = Request::from_parts(parts.clone(), body);
    let multipart = Multipart::from_request(first, &()).await.unwrap();
    drop(multipart);
    next.run(Request::from_parts(parts, Body::empty())).await
}

fn router(tmpdir: &Path, layer: MultipartLayer) -> Router {
    Router::new()
        .route("/stream", post(stream))
        .route("/files", post(files))
        .route("/fail", post(fail))
        .route("/optional", post(optional))
        .route("/panic", post(explode))
        .route("/keep", post(keep))
        .route("/tiny", post(tiny))
        .route("/big/files", post(files))
        .route("/twice", post(stream).layer(from_fn(read_first)))
        .layer(layer.with_tmpdir(tmpdir).with_route(
            "/big".parse().unwrap(),
            Limits {
                file_size: ByteSize(20 * MIB),
                files: 1,
                ..Limits::default()
            },
        ))
        .layer(CatchPanicLayer::new())
}

async fn start(layer: MultipartLayer) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::serve(router(dir.path(), layer)).await;
    (addr, dir)
}

fn ct() -> String {
    Form::content_type()
}

#[tokio::test]
async fn stream_mode_yields_fields_and_files_in_order() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let body = Form::new()
        .field("title", "holiday")
        .file("photo", "../../etc/a.png", vec![7u8; 100_000])
        .field("tag", "sea")
        .file("thumb", r"C:\Users\ada\b.JPG", b"jpg")
        .finish();
    for framing in [Framing::Length, Framing::Chunked] {
        send_with(addr, "/stream", &ct(), &body, framing, &[]).await.assert(
            200,
            "field title=holiday\nfile photo a.png image/png 100000\nfield tag=sea\nfile thumb b.JPG image/png 3",
        );
    }
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn file_mode_saves_under_dated_dirs_and_removes_after() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let body = Form::new()
        .field("title", "x")
        .file("doc", "report.JSON", b"{\"a\":1}")
        .finish();
    let reply = send(addr, "/files", &ct(), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut lines = reply.body.lines();
    assert_eq!(lines.next(), Some("field title=1"));
    let file: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(&file[..5], ["file", "doc", "report.JSON", "image/png", "7"]);
    let path = Path::new(file[5]);
    let relative = path.strip_prefix(dir.path()).unwrap();
    let parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    assert_eq!(parts.len(), 5, "{relative:?}");
    assert!(
        parts[..4]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    );
    assert_eq!(parts[4].len(), 32 + ".json".len());
    assert!(parts[4].ends_with(".json"));
    wait_no_files(dir.path()).await;
}

#[tokio::test]
async fn temp_files_are_removed_after_errors_and_panics_but_kept_when_taken() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let body = Form::new().file("f", "a.png", vec![1u8; 50_000]).finish();
    send(addr, "/fail", &ct(), &body).await.assert(500, "");
    wait_no_files(dir.path()).await;

    let reply = send(addr, "/panic", &ct(), &body).await;
    assert_eq!(reply.status, 500);
    wait_no_files(dir.path()).await;

    // The second file goes over the limit: the first, saved, is removed too.
    let over = Form::new()
        .file("ok", "a.png", vec![1u8; 1000])
        .file("big", "b.png", vec![1u8; 10 * MIB as usize + 1])
        .finish();
    send(addr, "/files", &ct(), &over)
        .await
        .assert(413, "file_size limit of 10 MiB exceeded for field \"big\"");
    wait_no_files(dir.path()).await;

    let reply = send(addr, "/keep", &ct(), &body).await;
    assert_eq!(reply.status, 200);
    let kept = Path::new(&reply.body);
    assert_eq!(std::fs::metadata(kept).unwrap().len(), 50_000);
    std::fs::remove_file(kept).unwrap();
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_no_file() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /files HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        ct(),
        5 * MIB
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
        .write_all(Form::file_head("f", "big.zip", "application/zip").as_bytes())
        .await
        .unwrap();
    let chunk = vec![0u8; 64 * 1024];
    // Write until the server has started the temp file.
    for _ in 0..200 {
        if socket.write_all(&chunk).await.is_err() {
            break;
        }
        if !files_under(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(files_under(dir.path()).len(), 1);
    drop(socket);
    wait_no_files(dir.path()).await;
}

#[tokio::test]
async fn each_limit_at_and_one_over() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let file = |size: u64| {
        Form::new()
            .file("f", "a.png", vec![b'x'; size as usize])
            .finish()
    };
    send(addr, "/files", &ct(), &file(10 * MIB))
        .await
        .assert_starts(200, "file f a.png image/png 10485760");
    send(addr, "/files", &ct(), &file(10 * MIB + 1))
        .await
        .assert(413, "file_size limit of 10 MiB exceeded for field \"f\"");

    let files = |count: usize| {
        (0..count)
            .fold(Form::new(), |form, i| {
                form.file(&format!("f{i}"), "a.gif", b"GIF")
            })
            .finish()
    };
    let reply = send(addr, "/files", &ct(), &files(10)).await;
    assert_eq!((reply.status, reply.body.lines().count()), (200, 10));
    send(addr, "/files", &ct(), &files(11))
        .await
        .assert(413, "files limit of 10 exceeded");

    let fields = |count: usize| {
        (0..count)
            .fold(Form::new(), |form, i| form.field(&format!("f{i}"), "v"))
            .finish()
    };
    let reply = send(addr, "/files", &ct(), &fields(10)).await;
    assert_eq!((reply.status, reply.body.lines().count()), (200, 10));
    send(addr, "/files", &ct(), &fields(11))
        .await
        .assert(413, "fields limit of 10 exceeded");

    let field = |size: u64| {
        Form::new()
            .field("note", vec![b'n'; size as usize])
            .finish()
    };
    send(addr, "/files", &ct(), &field(100 * KIB))
        .await
        .assert(200, "field note=102400");
    send(addr, "/files", &ct(), &field(100 * KIB + 1))
        .await
        .assert(
            413,
            "field_size limit of 100 KiB exceeded for field \"note\"",
        );

    let named = |len: usize| Form::new().field(&"n".repeat(len), "v").finish();
    let reply = send(addr, "/files", &ct(), &named(100)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    send(addr, "/files", &ct(), &named(101))
        .await
        .assert(413, "field_name_size limit of 100 bytes exceeded");

    // Limits set per handler.
    let small = |size: usize| Form::new().file("f", "a.png", vec![b'x'; size]).finish();
    send(addr, "/tiny", &ct(), &small(16))
        .await
        .assert(200, "1");
    send(addr, "/tiny", &ct(), &small(17))
        .await
        .assert(413, "file_size limit of 16 bytes exceeded for field \"f\"");

    // Limits set per path pattern: /big takes one file of up to 20 MiB.
    send(addr, "/big/files", &ct(), &file(12 * MIB))
        .await
        .assert_starts(200, "file f a.png");
    send(addr, "/big/files", &ct(), &files(2))
        .await
        .assert(413, "files limit of 1 exceeded");
    wait_no_files(dir.path()).await;
}

#[tokio::test]
async fn the_body_limit_at_and_one_over_with_both_framings() {
    let limit = 1000;
    let layer = MultipartLayer::new().with_limits(Limits {
        body_size: Some(ByteSize(limit)),
        ..Limits::default()
    });
    let (addr, dir) = start(layer).await;
    let body = |size: u64| {
        let empty = Form::new().field("pad", "").finish().len() as u64;
        Form::new()
            .field("pad", vec![b'p'; (size - empty) as usize])
            .finish()
    };
    assert_eq!(body(limit).len() as u64, limit);
    for framing in [Framing::Length, Framing::Chunked] {
        let reply = send_with(addr, "/files", &ct(), &body(limit), framing, &[]).await;
        assert_eq!(reply.status, 200, "{framing:?}: {}", reply.body);
        send_with(addr, "/files", &ct(), &body(limit + 1), framing, &[])
            .await
            .assert(413, "body_size limit of 1000 bytes exceeded");
    }
    // JSON for JSON clients.
    send_with(
        addr,
        "/files",
        &ct(),
        &body(limit + 1),
        Framing::Chunked,
        &[("accept", "application/json")],
    )
    .await
    .assert(
        413,
        r#"{"message":"body_size limit of 1000 bytes exceeded"}"#,
    );
    wait_no_files(dir.path()).await;
}

#[tokio::test]
async fn a_default_route_takes_more_than_axums_2mb_body_limit() {
    let (addr, _dir) = start(MultipartLayer::new()).await;
    let body = Form::new()
        .file("a", "a.png", vec![0u8; 6 * MIB as usize])
        .file("b", "b.png", vec![0u8; 6 * MIB as usize])
        .finish();
    send(addr, "/stream", &ct(), &body).await.assert(
        200,
        "file a a.png image/png 6291456\nfile b b.png image/png 6291456",
    );
}

#[tokio::test]
async fn whitelist_cases() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    let one = |name: &str| Form::new().file("f", name, b"data").finish();
    send(addr, "/stream", &ct(), &one("PHOTO.JPG"))
        .await
        .assert(200, "file f PHOTO.JPG image/png 4");
    send(addr, "/stream", &ct(), &one("../../../etc/x.png"))
        .await
        .assert(200, "file f x.png image/png 4");
    send(addr, "/stream", &ct(), &one(r"..\\..\\x.png"))
        .await
        .assert(200, "file f x.png image/png 4");
    let reply = send(addr, "/stream", &ct(), &one("a.jpg.exe")).await;
    reply.assert_starts(
        400,
        "Invalid filename: a.jpg.exe (extension \".exe\" is not in the whitelist: .jpg, .jpeg, .png,",
    );
    assert!(reply.body.ends_with(".mp3, .mp4, .avi)"), "{}", reply.body);
    send(addr, "/stream", &ct(), &one("README"))
        .await
        .assert_starts(
            400,
            "Invalid filename: README (extension (none) is not in the whitelist",
        );
    send(addr, "/stream", &ct(), &one("../.."))
        .await
        .assert_starts(400, "Invalid filename: ../..");
    // A control character never reaches the name.
    send(addr, "/stream", &ct(), &one("a\tb.png"))
        .await
        .assert(200, "file f ab.png image/png 4");
    // An empty file input (no file chosen) is skipped.
    send(addr, "/stream", &ct(), &one("")).await.assert(200, "");
    // In file mode a refused file leaves nothing behind.
    let mixed = Form::new()
        .file("a", "a.png", b"ok")
        .file("b", "b.exe", b"MZ")
        .finish();
    send(addr, "/files", &ct(), &mixed)
        .await
        .assert_starts(400, "Invalid filename: b.exe");
    wait_no_files(dir.path()).await;

    // `""` allows names without an extension; a list of its own replaces Egg's.
    let layer = MultipartLayer::new().with_whitelist(Whitelist::default().with_extensions([""]));
    let (addr, _dir) = start(layer).await;
    send(addr, "/stream", &ct(), &one("README"))
        .await
        .assert(200, "file f README image/png 4");
    let layer = MultipartLayer::new().with_whitelist(Whitelist::extensions([".exe"]));
    let (addr, _dir) = start(layer).await;
    send(addr, "/stream", &ct(), &one("a.jpg.exe"))
        .await
        .assert(200, "file f a.jpg.exe image/png 4");
    send(addr, "/stream", &ct(), &one("a.png")).await.assert(
        400,
        "Invalid filename: a.png (extension \".png\" is not in the whitelist: .exe)",
    );
    let layer = MultipartLayer::new().with_whitelist(Whitelist::predicate(|name| name.len() < 6));
    let (addr, _dir) = start(layer).await;
    send(addr, "/stream", &ct(), &one("a.bin"))
        .await
        .assert(200, "file f a.bin image/png 4");
    send(addr, "/stream", &ct(), &one("ab.bin")).await.assert(
        400,
        "Invalid filename: ab.bin (extension \".bin\" is not in the whitelist: a predicate set in code)",
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_saying_what_is_wrong() {
    let (addr, dir) = start(MultipartLayer::new()).await;
    send(addr, "/files", "application/json", b"{}")
        .await
        .assert(400, "Content-Type must be multipart/*");
    send_with(
        addr,
        "/files",
        "text/plain",
        b"x",
        Framing::Length,
        &[("accept", "application/json")],
    )
    .await
    .assert(400, r#"{"message":"Content-Type must be multipart/*"}"#);
    send(addr, "/files", "multipart/form-data", b"--x--\r\n").await.assert(
        400,
        "Content-Type `multipart/form-data` has no boundary: send multipart/form-data; boundary=...",
    );

    let truncated = Form::new()
        .raw(Form::file_head("f", "a.png", "image/png"))
        .raw(vec![b'x'; 5000])
        .unfinished();
    send(addr, "/files", &ct(), &truncated).await.assert(
        400,
        "malformed multipart body: the body ended inside part \"f\", before its boundary (truncated upload?)",
    );
    let no_final = Form::new().field("a", "1").unfinished();
    send(addr, "/files", &ct(), &no_final).await.assert(
        400,
        "malformed multipart body: the body ended inside part \"a\", before its boundary (truncated upload?)",
    );
    let unclosed = Form::new()
        .field("a", "1")
        .raw(format!("--{BOUNDARY}"))
        .unfinished();
    send(addr, "/files", &ct(), &unclosed).await.assert(
        400,
        "malformed multipart body: the body ended before the final boundary",
    );
    let no_boundary_in_body = b"just some bytes, no parts at all";
    send(addr, "/files", &ct(), no_boundary_in_body)
        .await
        .assert(
            400,
            "malformed multipart body: the body ended before the final boundary",
        );
    let long_headers = Form::new()
        .raw(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Long: {}\r\n\r\nv\r\n",
            "h".repeat(20_000)
        ))
        .finish();
    send(addr, "/files", &ct(), &long_headers).await.assert(
        400,
        "malformed multipart body: part headers longer than 16384 bytes",
    );
    let bad_header = Form::new()
        .raw(format!("--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n"))
        .finish();
    send(addr, "/files", &ct(), &bad_header)
        .await
        .assert_starts(
            400,
            "malformed multipart body: cannot parse a part's headers",
        );
    let nameless = Form::new()
        .raw(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nv\r\n"
        ))
        .finish();
    send(addr, "/files", &ct(), &nameless).await.assert(
        400,
        "malformed multipart body: part 0 has no name in its Content-Disposition",
    );
    let not_utf8 = Form::new().field("a", [0xff, 0xfe]).finish();
    send(addr, "/files", &ct(), &not_utf8)
        .await
        .assert(400, "field \"a\" is not valid UTF-8");
    wait_no_files(dir.path()).await;
}

#[tokio::test]
async fn reading_the_body_twice_is_a_clear_error() {
    let (addr, _dir) = start(MultipartLayer::new()).await;
    let body = Form::new().field("a", "1").finish();
    send(addr, "/twice", &ct(), &body).await.assert(
        500,
        "the multipart body of this request was already read; extract `Multipart` or `Upload` once per request",
    );
}

#[tokio::test]
async fn without_the_layer_the_extractor_says_what_to_add() {
    let app = Router::new().route("/", post(stream));
    let addr = common::serve(app).await;
    let body = Form::new().field("a", "1").finish();
    send(addr, "/", &ct(), &body).await.assert(
        500,
        "`Multipart` and `Upload` need `MultipartLayer`: add `.layer(MultipartLayer::new())` to the router, or enable the multipart plugin",
    );
    // A request that is not multipart is refused before that.
    send(addr, "/", "text/plain", b"x")
        .await
        .assert(400, "Content-Type must be multipart/*");
}

#[tokio::test]
async fn optional_extractors_take_requests_that_are_not_multipart() {
    let (addr, _dir) = start(MultipartLayer::new()).await;
    send(addr, "/optional", "application/json", b"{}")
        .await
        .assert(200, "none");
    let body = Form::new().field("a", "1").finish();
    send(addr, "/optional", &ct(), &body).await.assert(200, "1");
    send(addr, "/optional", "multipart/form-data", b"x")
        .await
        .assert_starts(400, "Content-Type `multipart/form-data` has no boundary");
}
