//! [`Whitelist`] of file extensions, and the sanitising of file names.

use std::fmt;
use std::sync::Arc;

/// Egg's default extension whitelist.
pub const DEFAULT_EXTENSIONS: &[&str] = &[
    // images
    ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".wbmp", ".webp", ".tif", ".psd", // text
    ".svg", ".js", ".jsx", ".json", ".css", ".less", ".html", ".htm", ".xml", // tar
    ".zip", ".gz", ".tgz", ".gzip", // video
    ".mp3", ".mp4", ".avi",
];

type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Which files an upload may hold, by extension (lower-cased, with its dot: `.jpg`; `""` for a
/// name without one), as Egg checks them.
///
/// ```
/// use yolk_multipart::Whitelist;
///
/// let egg = Whitelist::default();
/// assert!(egg.allows("photo.JPG"));
/// assert!(!egg.allows("a.jpg.exe"));
/// assert!(!egg.allows("README"));
///
/// // `file_extensions` adds to Egg's list; `""` allows names without an extension.
/// let more = Whitelist::default().with_extensions([".pdf", ""]);
/// assert!(more.allows("report.pdf") && more.allows("README"));
///
/// // A list of its own replaces Egg's, or a predicate decides.
/// let only_text = Whitelist::extensions([".txt"]);
/// assert!(only_text.allows("a.txt") && !only_text.allows("a.png"));
/// let no_exe = Whitelist::predicate(|name| !name.to_ascii_lowercase().ends_with(".exe"));
/// assert!(no_exe.allows("a.bin") && !no_exe.allows("A.EXE"));
/// ```
#[derive(Clone)]
pub struct Whitelist(Kind);

#[derive(Clone)]
enum Kind {
    Extensions(Arc<[String]>),
    Predicate(Predicate),
}

impl Default for Whitelist {
    fn default() -> Self {
        Self::extensions(DEFAULT_EXTENSIONS.iter().copied())
    }
}

impl fmt::Debug for Whitelist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Whitelist({self})")
    }
}

/// The list as a message shows it: `.jpg, .png, (no extension)`, or `a predicate`.
impl fmt::Display for Whitelist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Predicate(_) => f.write_str("a predicate set in code"),
            Kind::Extensions(list) if list.is_empty() => f.write_str("(empty)"),
            Kind::Extensions(list) => {
                for (i, ext) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(if ext.is_empty() {
                        "(no extension)"
                    } else {
                        ext
                    })?;
                }
                Ok(())
            }
        }
    }
}

impl Whitelist {
    /// Exactly these extensions (Egg's `whitelist`); each is lower-cased and given a leading
    /// dot if it has none; `""` allows names without an extension.
    ///
    /// ```
    /// let list = yolk_multipart::Whitelist::extensions(["PDF", ".txt"]);
    /// assert_eq!(list.to_string(), ".pdf, .txt");
    /// ```
    pub fn extensions<I, S>(extensions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = Vec::new();
        for ext in extensions {
            let ext = normalise(ext.as_ref());
            if !list.contains(&ext) {
                list.push(ext);
            }
        }
        Self(Kind::Extensions(list.into()))
    }

    /// A check in code on the sanitised file name (Egg's `whitelist` as a function).
    ///
    /// ```
    /// let any = yolk_multipart::Whitelist::predicate(|_| true);
    /// assert!(any.allows("setup.exe"));
    /// ```
    pub fn predicate(check: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Kind::Predicate(Arc::new(check)))
    }

    /// This list plus `extensions` (Egg's `fileExtensions`); a predicate is left as it is.
    ///
    /// ```
    /// let list = yolk_multipart::Whitelist::extensions([".txt"]).with_extensions([".md"]);
    /// assert_eq!(list.to_string(), ".txt, .md");
    /// ```
    #[must_use]
    pub fn with_extensions<I, S>(self, extensions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match self.0 {
            Kind::Extensions(list) => {
                let added = extensions.into_iter().map(|ext| ext.as_ref().to_owned());
                Self::extensions(list.iter().cloned().chain(added))
            }
            Kind::Predicate(_) => self,
        }
    }

    /// True when a file named `file_name` (already sanitised) may be uploaded.
    ///
    /// ```
    /// assert!(yolk_multipart::Whitelist::default().allows("archive.tar.gz"));
    /// ```
    pub fn allows(&self, file_name: &str) -> bool {
        match &self.0 {
            Kind::Predicate(check) => check(file_name),
            Kind::Extensions(list) => {
                let ext = extension(file_name).to_ascii_lowercase();
                list.contains(&ext)
            }
        }
    }
}

fn normalise(ext: &str) -> String {
    let ext = ext.trim().to_ascii_lowercase();
    if ext.is_empty() || ext.starts_with('.') {
        ext
    } else {
        format!(".{ext}")
    }
}

/// The extension of `file_name` with its dot, as Node's `path.extname` finds it: from the last
/// dot, unless that dot starts the name (`.bashrc` has none).
///
/// ```
/// use yolk_multipart::extension;
///
/// assert_eq!(extension("a.jpg.exe"), ".exe");
/// assert_eq!(extension("photo.JPG"), ".JPG");
/// assert_eq!(extension(".bashrc"), "");
/// assert_eq!(extension("README"), "");
/// assert_eq!(extension("trailing."), ".");
/// ```
pub fn extension(file_name: &str) -> &str {
    match file_name.rfind('.') {
        Some(0) | None => "",
        Some(dot) => &file_name[dot..],
    }
}

/// The file name a client sent, made safe to show and to log: only its last path component
/// (after any `/` or `\`), without control characters, trimmed; `.` and `..` become empty.
///
/// The name is never used as a path on disk: saved files get a random name.
///
/// ```
/// use yolk_multipart::sanitize_file_name;
///
/// assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
/// assert_eq!(sanitize_file_name(r"C:\Users\ada\photo.png"), "photo.png");
/// assert_eq!(sanitize_file_name("evil\u{0}name\r\n.png"), "evilname.png");
/// assert_eq!(sanitize_file_name("a/.."), "");
/// ```
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned == "." || cleaned == ".." {
        String::new()
    } else {
        cleaned.to_owned()
    }
}

/// The extension a saved file keeps on disk: the name's, lower-cased, when it is 1 to 16
/// ASCII letters or digits; none otherwise.
pub(crate) fn disk_extension(file_name: &str) -> String {
    let ext = extension(file_name);
    let body = ext.strip_prefix('.').unwrap_or_default();
    if !body.is_empty() && body.len() <= 16 && body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        ext.to_ascii_lowercase()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egg_list_is_complete() {
        let list = Whitelist::default();
        for ext in [
            "jpg", "jpeg", "png", "gif", "bmp", "wbmp", "webp", "tif", "psd", "svg", "js", "jsx",
            "json", "css", "less", "html", "htm", "xml", "zip", "gz", "tgz", "gzip", "mp3", "mp4",
            "avi",
        ] {
            assert!(list.allows(&format!("f.{ext}")), "{ext}");
            assert!(list.allows(&format!("F.{}", ext.to_uppercase())), "{ext}");
        }
        assert_eq!(DEFAULT_EXTENSIONS.len(), 25);
        assert!(!list.allows("f.exe") && !list.allows("f") && !list.allows("f."));
    }

    #[test]
    fn empty_extension_and_dotfiles() {
        let list = Whitelist::extensions([""]);
        assert!(list.allows("Makefile") && list.allows(".env"));
        assert!(!list.allows("a.txt"));
        assert_eq!(list.to_string(), "(no extension)");
        assert_eq!(
            Whitelist::extensions(Vec::<String>::new()).to_string(),
            "(empty)"
        );
    }

    #[test]
    fn sanitising() {
        assert_eq!(sanitize_file_name("..\\..\\x.png"), "x.png");
        assert_eq!(sanitize_file_name("  spaced.png  "), "spaced.png");
        assert_eq!(sanitize_file_name("dir/"), "");
        assert_eq!(sanitize_file_name("\u{7f}\u{1b}[31m.png"), "[31m.png");
        assert_eq!(disk_extension("A.PNG"), ".png");
        assert_eq!(disk_extension("a.p/ng"), "");
        assert_eq!(disk_extension("a.averyveryverylongextension"), "");
        assert_eq!(disk_extension("noext"), "");
    }
}
