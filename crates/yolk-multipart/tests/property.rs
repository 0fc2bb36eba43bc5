//! Arbitrary bodies, boundaries, chunkings and limits through both modes: never a panic, never
//! a hang, never a file left behind.

mod common;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use yolk_multipart::{ByteSize, Limits, Multipart};

use common::files_under;

/// A body cut into chunks at the given points.
fn chunked(body: &[u8], cuts: &[usize]) -> Vec<Result<Bytes, std::io::Error>> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (body.len() + 1)).collect();
    points.push(0);
    points.push(body.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| Ok(Bytes::copy_from_slice(&body[w[0]..w[1]])))
        .collect()
}

fn multipart(body: &[u8], cuts: &[usize], boundary: &str, limits: Limits, tmp: &Path) -> Multipart {
    let stream = futures_util::stream::iter(chunked(body, cuts));
    Multipart::new(stream, boundary)
        .with_limits(limits)
        .with_tmpdir(tmp)
}

/// Stream mode, reading some parts to their end and dropping others early.
async fn read_all(mut multipart: Multipart, skip: &[bool]) -> usize {
    let mut parts = 0;
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => {
                parts += 1;
                if skip.get(parts).copied().unwrap_or(false) {
                    let _ = field.chunk().await;
                    continue;
                }
                while let Ok(Some(_)) = field.chunk().await {}
            }
            Ok(None) => return parts,
            Err(rejection) => {
                let status = rejection.status().as_u16();
                assert!(status == 400 || status == 413, "{status}: {rejection}");
                // After an error, the upload is over.
                assert!(multipart.next_field().await.is_err());
                return parts;
            }
        }
    }
}

fn check(body: &[u8], cuts: &[usize], boundary: &str, limits: Limits, skip: &[bool]) {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stream = multipart(body, cuts, boundary, limits, tmp.path());
        tokio::time::timeout(Duration::from_secs(10), read_all(stream, skip))
            .await
            .expect("stream mode ends");
        let files = multipart(body, cuts, boundary, limits, tmp.path());
        let saved = tokio::time::timeout(Duration::from_secs(10), files.save_files())
            .await
            .expect("file mode ends");
        if let Ok(upload) = saved {
            for file in &upload.files {
                assert_eq!(std::fs::metadata(file.path()).unwrap().len(), file.size());
            }
        }
    });
    let left = files_under(tmp.path());
    assert!(left.is_empty(), "files left behind: {left:?}");
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        0u64..300,
        0usize..4,
        0usize..4,
        0u64..300,
        0usize..20,
        prop::option::of(0u64..2000),
    )
        .prop_map(
            |(file_size, files, fields, field_size, field_name_size, body_size)| Limits {
                file_size: ByteSize(file_size),
                files,
                fields,
                field_size: ByteSize(field_size),
                field_name_size,
                body_size: body_size.map(ByteSize),
            },
        )
}

fn part() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec!["a", "file", "", "x\"y", "n;m"]);
    let file_name = prop::option::of(prop::sample::select(vec![
        "a.png",
        "A.JPG",
        "a.jpg.exe",
        "../../x.gif",
        r"..\..\y.css",
        "..",
        "",
        "noext",
        "\u{0}.png",
    ]));
    let data = prop::collection::vec(any::<u8>(), 0..400);
    (name, file_name, data).prop_map(|(name, file_name, data)| {
        let mut part = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(file_name) = file_name {
            part.push_str(&format!(
                "; filename=\"{file_name}\"\r\nContent-Type: image/png"
            ));
        }
        part.push_str("\r\n\r\n");
        let mut part = part.into_bytes();
        part.extend_from_slice(&data);
        part
    })
}

/// A well-formed body, then mangled: cut short, a byte changed, bytes inserted.
fn mangled_form() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(part(), 0..5),
        any::<bool>(),
        prop::option::of(any::<usize>()),
        prop::option::of((any::<usize>(), any::<u8>())),
        prop::option::of((any::<usize>(), prop::collection::vec(any::<u8>(), 1..20))),
    )
        .prop_map(|(parts, close, cut, flip, insert)| {
            let mut body = Vec::new();
            for part in parts {
                body.extend_from_slice(b"--B\r\n");
                body.extend_from_slice(&part);
                body.extend_from_slice(b"\r\n");
            }
            if close {
                body.extend_from_slice(b"--B--\r\n");
            }
            if let Some((at, byte)) = flip
                && !body.is_empty()
            {
                let at = at % body.len();
                body[at] = byte;
            }
            if let Some((at, bytes)) = insert {
                let at = at % (body.len() + 1);
                body.splice(at..at, bytes);
            }
            if let Some(cut) = cut {
                body.truncate(cut % (body.len() + 1));
            }
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_and_boundaries(
        body in prop::collection::vec(any::<u8>(), 0..2000),
        boundary in "[ -~]{1,70}",
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        limits in limits(),
        skip in prop::collection::vec(any::<bool>(), 0..6),
    ) {
        check(&body, &cuts, &boundary, limits, &skip);
    }

    #[test]
    fn mangled_forms(
        body in mangled_form(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        limits in limits(),
        skip in prop::collection::vec(any::<bool>(), 0..6),
    ) {
        check(&body, &cuts, "B", limits, &skip);
    }

    #[test]
    fn mangled_forms_within_egg_limits(
        body in mangled_form(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        skip in prop::collection::vec(any::<bool>(), 0..6),
    ) {
        check(&body, &cuts, "B", Limits::default(), &skip);
    }
}
