//! Temp files of file mode: where they go, the guard that removes them, the sweep of leftovers.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default temp directory: the OS temp dir, then `yolk-multipart`.
///
/// ```
/// assert!(yolk_multipart::default_tmpdir().ends_with("yolk-multipart"));
/// ```
pub fn default_tmpdir() -> PathBuf {
    std::env::temp_dir().join("yolk-multipart")
}

/// A new temp path `tmpdir/YYYY/MM/DD/HH/<32 hex digits><ext>` (UTC), its directory created.
pub(crate) async fn new_temp_path(tmpdir: &Path, ext: &str) -> io::Result<PathBuf> {
    let (year, month, day, hour) = utc_now();
    let dir = tmpdir
        .join(format!("{year:04}"))
        .join(format!("{month:02}"))
        .join(format!("{day:02}"))
        .join(format!("{hour:02}"));
    tokio::fs::create_dir_all(&dir).await?;
    let random: u128 = rand::random();
    Ok(dir.join(format!("{random:032x}{ext}")))
}

/// The current UTC `(year, month, day, hour)`: the dated part of a temp path.
fn utc_now() -> (i16, i8, i8, i8) {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    (now.year(), now.month(), now.day(), now.hour())
}

/// A file saved by file mode. It is removed when this value is dropped — at the end of the
/// request, on an error, on a panic — unless the handler takes it with
/// [`keep`](Self::keep) or [`persist`](Self::persist).
///
/// ```
/// use axum::{Router, routing::post};
/// use yolk_multipart::{MultipartLayer, Upload};
///
/// async fn avatar(upload: Upload) -> String {
///     let file = &upload.files[0];
///     format!("{} {} {} {}", file.field(), file.file_name(), file.content_type(), file.size())
/// }
///
/// let app: Router = Router::new()
///     .route("/avatar", post(avatar))
///     .layer(MultipartLayer::new());
/// ```
#[derive(Debug)]
pub struct SavedFile {
    pub(crate) field: String,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) kept: bool,
}

impl SavedFile {
    /// The form field the file came in.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The client's file name, sanitised (see [`sanitize_file_name`](crate::sanitize_file_name)).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The part's `Content-Type`, `application/octet-stream` when it had none.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Where the file is: `tmpdir/YYYY/MM/DD/HH/<random><ext>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes the file: it is no longer removed, and its path is the caller's to clean up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let body = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\nPNG\r\n--b--\r\n";
    /// # let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
    /// # let multipart = yolk_multipart::Multipart::new(stream, "b").with_tmpdir(dir.path());
    /// let mut upload = multipart.save_files().await?;
    /// let path = upload.files.remove(0).keep();
    /// assert_eq!(std::fs::read(&path)?, b"PNG");
    /// std::fs::remove_file(path)?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "the file is no longer removed: keep its path"]
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }

    /// Moves the file to `to` (a rename, or a copy when `to` is on another file system) and
    /// takes it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let body = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\nPNG\r\n--b--\r\n";
    /// # let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
    /// # let multipart = yolk_multipart::Multipart::new(stream, "b").with_tmpdir(dir.path().join("tmp"));
    /// let mut upload = multipart.save_files().await?;
    /// let file = upload.files.remove(0);
    /// let temp = file.path().to_owned();
    /// let kept = file.persist(dir.path().join("avatar.png")).await?;
    /// assert_eq!(std::fs::read(kept)?, b"PNG");
    /// assert!(!temp.exists());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The I/O error of the rename or the copy; the temp file is then still removed when this
    /// value is dropped.
    pub async fn persist(self, to: impl AsRef<Path>) -> io::Result<PathBuf> {
        let to = to.as_ref().to_owned();
        if tokio::fs::rename(&self.path, &to).await.is_err() {
            tokio::fs::copy(&self.path, &to).await?;
            // `self` is dropped below and removes the temp copy.
        } else {
            let _ = self.keep();
        }
        Ok(to)
    }
}

impl Drop for SavedFile {
    fn drop(&mut self) {
        if !self.kept {
            // Synchronous on purpose: the file is gone when the request's future is.
            if let Err(error) = std::fs::remove_file(&self.path)
                && error.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %self.path.display(), %error, "cannot remove upload temp file");
            }
        }
    }
}

/// What one [`sweep`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Temp files removed.
    pub files: usize,
    /// Empty `YYYY/MM/DD/HH` directories removed.
    pub dirs: usize,
}

/// Removes, under `tmpdir`, the upload temp files older than `older_than` (by modification
/// time) and the date directories left empty: what crashed requests leave behind. Only names
/// that file mode writes (`YYYY/MM/DD/HH/<32 hex digits><ext>`) are touched, so a `tmpdir`
/// shared with other programs is safe.
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let hour = dir.path().join("2020/01/02/03");
/// std::fs::create_dir_all(&hour)?;
/// std::fs::write(hour.join("0123456789abcdef0123456789abcdef.png"), b"x")?;
/// std::fs::write(hour.join("notes.txt"), b"not ours")?;
///
/// let swept = yolk_multipart::sweep(dir.path(), Duration::ZERO).await?;
/// assert_eq!(swept.files, 1);
/// assert!(hour.join("notes.txt").exists());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// When `tmpdir` exists but cannot be read; files that cannot be removed are logged and
/// skipped.
pub async fn sweep(tmpdir: &Path, older_than: Duration) -> io::Result<Sweep> {
    let tmpdir = tmpdir.to_owned();
    tokio::task::spawn_blocking(move || sweep_blocking(&tmpdir, older_than))
        .await
        .map_err(io::Error::other)?
}

fn sweep_blocking(tmpdir: &Path, older_than: Duration) -> io::Result<Sweep> {
    let mut swept = Sweep::default();
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(UNIX_EPOCH);
    let entries = match std::fs::read_dir(tmpdir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(swept),
        Err(error) => return Err(error),
    };
    let (year, month, day, hour) = utc_now();
    let now = [
        format!("{year:04}"),
        format!("{month:02}"),
        format!("{day:02}"),
        format!("{hour:02}"),
    ];
    for entry in entries.flatten() {
        sweep_dir(&entry.path(), 1, true, &now, cutoff, &mut swept);
    }
    Ok(swept)
}

/// `depth` 1..=4 are the year, month, day and hour directories; `current` is true while the
/// path so far is the current hour's, whose directories are kept for the requests writing
/// there.
fn sweep_dir(
    dir: &Path,
    depth: usize,
    current: bool,
    now: &[String; 4],
    cutoff: SystemTime,
    swept: &mut Sweep,
) {
    let widths = [4, 2, 2, 2];
    let Some(name) = dir.file_name().and_then(|name| name.to_str()) else {
        return;
    };
    let is_date_dir = name.len() == widths[depth - 1] && name.bytes().all(|b| b.is_ascii_digit());
    if !is_date_dir || !dir.is_dir() {
        return;
    }
    let current = current && name == now[depth - 1];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if depth < 4 {
            sweep_dir(&path, depth + 1, current, now, cutoff, swept);
        } else if is_temp_name(&path) && modified_before(&path, cutoff) {
            match std::fs::remove_file(&path) {
                Ok(()) => swept.files += 1,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot remove a leftover upload");
                }
            }
        }
    }
    // `remove_dir` removes only an empty directory.
    if !current && std::fs::remove_dir(dir).is_ok() {
        swept.dirs += 1;
    }
}

fn is_temp_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let (stem, ext) = name.split_at(name.find('.').unwrap_or(name.len()));
    stem.len() == 32
        && stem.bytes().all(|b| b.is_ascii_hexdigit())
        && (ext.is_empty()
            || (ext.len() <= 17 && ext[1..].bytes().all(|b| b.is_ascii_alphanumeric())))
}

fn modified_before(path: &Path, cutoff: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .is_ok_and(|modified| modified <= cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert!(is_temp_name(Path::new("0123456789abcdef0123456789abcdef")));
        assert!(is_temp_name(Path::new(
            "0123456789abcdef0123456789abcdef.jpg"
        )));
        assert!(!is_temp_name(Path::new(
            "0123456789abcdef0123456789abcdeg.jpg"
        )));
        assert!(!is_temp_name(Path::new("x.jpg")));
        assert!(!is_temp_name(Path::new(
            "0123456789abcdef0123456789abcdef.j/g"
        )));
    }

    #[tokio::test]
    async fn temp_paths_are_dated_and_random() {
        let dir = tempfile::tempdir().unwrap();
        let a = new_temp_path(dir.path(), ".png").await.unwrap();
        let b = new_temp_path(dir.path(), ".png").await.unwrap();
        assert_ne!(a, b);
        let relative = a.strip_prefix(dir.path()).unwrap();
        let parts: Vec<_> = relative
            .iter()
            .map(|p| p.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            [4, 2, 2, 2, 36]
        );
        assert!(a.parent().unwrap().is_dir());
    }

    #[tokio::test]
    async fn sweep_keeps_recent_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_temp_path(dir.path(), "").await.unwrap();
        std::fs::write(&path, b"x").unwrap();
        let swept = sweep(dir.path(), Duration::from_secs(3600)).await.unwrap();
        assert_eq!(swept, Sweep::default());
        assert!(path.exists());
        let swept = sweep(dir.path(), Duration::ZERO).await.unwrap();
        // The current hour's directories stay for the requests writing there.
        assert_eq!(swept, Sweep { files: 1, dirs: 0 });
        assert!(path.parent().unwrap().is_dir());

        let old = dir.path().join("2020/01/02/03");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("0123456789abcdef0123456789abcdef"), b"x").unwrap();
        let swept = sweep(dir.path(), Duration::ZERO).await.unwrap();
        assert_eq!(swept, Sweep { files: 1, dirs: 4 });
        assert!(!dir.path().join("2020").exists());
        assert_eq!(
            sweep(&dir.path().join("missing"), Duration::ZERO)
                .await
                .unwrap(),
            Sweep::default()
        );
    }
}
