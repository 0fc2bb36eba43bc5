//! Arbitrary bodies and boundaries through both modes of yolk-multipart: no panic, no hang, no
//! temp file left behind.
//!
//! Input layout: byte 0 picks the boundary's length (1..=70), the next bytes are the boundary
//! (mapped to printable ASCII), then 2 bytes of chunk size, 1 byte of limits, then the body.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use yolk_multipart::{ByteSize, Limits, Multipart};

fn tmpdir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temp dir"))
        .path()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| {
                let path = entry.path();
                if path.is_dir() { files_under(&path) } else { 1 }
            })
            .sum()
    })
}

fn multipart(body: &[u8], chunk: usize, boundary: &str, limits: Limits) -> Multipart {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Multipart::new(futures_util::stream::iter(chunks), boundary)
        .with_limits(limits)
        .with_tmpdir(tmpdir())
}

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 70) + 1;
    if rest.len() < len + 3 {
        return;
    }
    let (boundary, rest) = rest.split_at(len);
    let boundary: String = boundary.iter().map(|b| char::from(b' ' + b % 95)).collect();
    let chunk = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let small = rest[2] % 2 == 0;
    let body = &rest[3..];
    let limits = if small {
        Limits {
            file_size: ByteSize(64),
            files: 2,
            fields: 2,
            field_size: ByteSize(64),
            field_name_size: 8,
            body_size: Some(ByteSize(4096)),
        }
    } else {
        Limits::default()
    };
    runtime().block_on(async {
        let mut stream = multipart(body, chunk, &boundary, limits);
        while let Ok(Some(mut field)) = stream.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
        let upload = multipart(body, chunk, &boundary, limits).save_files().await;
        drop(upload);
    });
    assert_eq!(files_under(tmpdir()), 0, "a temp file was left behind");
});
