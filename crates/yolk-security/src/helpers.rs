//! Escaping helpers for templates and commands: [`escape`], [`sjs`], [`sjson`], [`shtml`],
//! [`surl`], [`spath`], [`escape_shell_arg`].
//!
//! The free functions use the defaults; [`Helpers`] carries the app's `domain_white_list` and
//! `protocol_white_list` (the plugin registers one as a service, for `Inject<Helpers>`).
//!
//! ```
//! use yolk_security::helpers::{escape, sjs, surl};
//!
//! assert_eq!(escape("<b>"), "&lt;b&gt;");
//! assert_eq!(sjs("</script>"), r"\x3C\x2Fscript\x3E");
//! assert_eq!(surl("javascript:alert(1)"), "");
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use crate::domain::DomainList;

/// Escapes `&`, `<`, `>`, `"`, `'` and `/` for HTML text and quoted attribute values.
///
/// ```
/// use yolk_security::helpers::escape;
///
/// assert_eq!(
///     escape(r#"<img src=x onerror="alert('1')">"#),
///     "&lt;img src=x onerror=&quot;alert(&#x27;1&#x27;)&quot;&gt;"
/// );
/// assert_eq!(escape("plain"), "plain");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

/// Escapes `text` for a JavaScript string literal, in single or double quotes, inside a
/// `<script>` block or an HTML attribute: everything but ASCII letters, digits, space and
/// `_ - . ,` becomes `\xHH` or `\uHHHH`.
///
/// ```
/// use yolk_security::helpers::sjs;
///
/// assert_eq!(sjs("a'b\"c"), r"a\x27b\x22c");
/// assert_eq!(sjs("é\u{2028}"), r"\xE9\u2028");
/// ```
pub fn sjs(text: &str) -> Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | ',');
    if text.chars().all(safe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if safe(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            let mut units = [0_u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        }
    }
    Cow::Owned(out)
}

/// Serialises `value` as JSON that is also safe inside `<script>`: `<`, `>`, `&`, `'`,
/// U+2028 and U+2029 are written as `\uXXXX`, so the output stays valid JSON and no string in
/// it can close the script or the attribute.
///
/// ```
/// use yolk_security::helpers::sjson;
///
/// let json = sjson(&serde_json::json!({ "name": "</script><script>alert(1)</script>" }))?;
/// assert_eq!(json, r#"{"name":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"}"#);
/// let back: serde_json::Value = serde_json::from_str(&json)?;
/// assert_eq!(back["name"], "</script><script>alert(1)</script>");
/// # Ok::<_, serde_json::Error>(())
/// ```
///
/// # Errors
///
/// The [`serde_json::Error`] when `value` cannot be serialised (a map with non-string keys).
pub fn sjson<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\'' => out.push_str("\\u0027"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Sanitises untrusted HTML with the default [`Helpers`]: keeps a safe tag and attribute
/// white list (ammonia's), drops scripts, event handlers and `javascript:` URLs.
///
/// ```
/// use yolk_security::helpers::shtml;
///
/// let clean = shtml(r#"<p onclick="x()">hi<script>alert(1)</script></p>"#);
/// assert_eq!(clean, "<p>hi</p>");
/// ```
pub fn shtml(html: &str) -> String {
    Helpers::default().shtml(html)
}

/// `url` HTML-escaped when its scheme is `http` or `https` (or it has none: a relative URL);
/// `""` otherwise. Whitespace and control characters hidden in the scheme do not help.
///
/// ```
/// use yolk_security::helpers::surl;
///
/// assert_eq!(surl("https://example.com/?a=1&b=2"), "https://example.com/?a=1&amp;b=2");
/// assert_eq!(surl("/local/path"), "/local/path");
/// assert_eq!(surl(" JaVa\tScRiPt:alert(1)"), "");
/// assert_eq!(surl("data:text/html,<script>"), "");
/// ```
pub fn surl(url: &str) -> Cow<'_, str> {
    if scheme_allowed(url, &[]) {
        escape(url)
    } else {
        Cow::Borrowed("")
    }
}

/// `path` when it is a safe relative path (after percent-decoding, up to three times):
/// not absolute, no `..` segment, no NUL, no drive letter; `None` otherwise.
///
/// ```
/// use yolk_security::helpers::spath;
///
/// assert_eq!(spath("avatars/1.png").as_deref(), Some("avatars/1.png"));
/// assert_eq!(spath("../etc/passwd"), None);
/// assert_eq!(spath("%2e%2e%2fetc"), None);
/// assert_eq!(spath("/etc/passwd"), None);
/// assert_eq!(spath("..\\boot.ini"), None);
/// ```
pub fn spath(path: &str) -> Option<Cow<'_, str>> {
    let mut decoded: Cow<'_, str> = Cow::Borrowed(path);
    for _ in 0..3 {
        if !decoded.contains('%') {
            break;
        }
        let bytes = crate::path::percent_decode(decoded.as_bytes())?;
        let text = String::from_utf8(bytes).ok()?;
        if text == decoded {
            break;
        }
        decoded = Cow::Owned(text);
    }
    let bytes = decoded.as_bytes();
    let absolute = bytes.first().is_some_and(|&b| b == b'/' || b == b'\\')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':');
    let traversal = decoded.split(['/', '\\']).any(|segment| segment == "..");
    if absolute || traversal || decoded.contains('\0') {
        return None;
    }
    Some(decoded)
}

/// Quotes `arg` as one word for a POSIX shell: wrapped in single quotes, each `'` written as
/// `'\''`, NUL bytes dropped.
///
/// ```
/// use yolk_security::helpers::escape_shell_arg;
///
/// assert_eq!(escape_shell_arg("file name"), "'file name'");
/// assert_eq!(escape_shell_arg("x'; rm -rf / #"), r"'x'\''; rm -rf / #'");
/// assert_eq!(escape_shell_arg("$(id)`id`"), "'$(id)`id`'");
/// ```
pub fn escape_shell_arg(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        match c {
            '\'' => out.push_str(r"'\''"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn scheme_allowed(url: &str, extra: &[String]) -> bool {
    // Browsers ignore leading C0 controls and spaces, and tabs and newlines anywhere.
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    // A `:` before any `/` or `?` makes what precedes it a scheme: one hiding entities
    // (`jav&#x61;script:`) or other odd characters is refused rather than guessed at.
    let end = cleaned.find([':', '/', '?']);
    let Some(end) = end.filter(|&end| cleaned.as_bytes()[end] == b':') else {
        return true; // no scheme: relative
    };
    let scheme = cleaned[..end].to_ascii_lowercase();
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return false;
    }
    scheme == "http" || scheme == "https" || extra.contains(&scheme)
}

/// The helpers that depend on the app's settings: `shtml` (links only to white-listed hosts
/// when `domain_white_list` is set) and `surl` (schemes in `protocol_white_list` too).
///
/// ```
/// use yolk_security::Helpers;
///
/// let helpers = Helpers::new(["example.com"], ["mailto"]);
/// assert_eq!(
///     helpers.shtml(r#"<a href="https://evil.org/">x</a><a href="https://www.example.com/">y</a>"#),
///     r#"<a rel="noopener noreferrer">x</a><a href="https://www.example.com/" rel="noopener noreferrer">y</a>"#
/// );
/// assert_eq!(helpers.surl("mailto:a@example.com"), "mailto:a@example.com");
/// ```
pub struct Helpers {
    sanitizer: ammonia::Builder<'static>,
    protocols: Vec<String>,
}

impl fmt::Debug for Helpers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Helpers")
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

impl Default for Helpers {
    fn default() -> Self {
        Self::new(std::iter::empty::<&str>(), std::iter::empty::<&str>())
    }
}

impl Helpers {
    /// Helpers for these white lists (as `domain_white_list` and `protocol_white_list`).
    pub fn new<D, P>(domains: D, protocols: P) -> Self
    where
        D: IntoIterator,
        D::Item: AsRef<str>,
        P: IntoIterator,
        P::Item: AsRef<str>,
    {
        let domains = DomainList::new(domains);
        let protocols: Vec<String> = protocols
            .into_iter()
            .map(|p| p.as_ref().trim_end_matches(':').to_ascii_lowercase())
            .collect();
        let mut sanitizer = ammonia::Builder::default();
        let schemes: HashSet<&'static str> = ["http", "https", "mailto"].into_iter().collect();
        sanitizer.url_schemes(schemes);
        if !domains.is_empty() {
            sanitizer.attribute_filter(move |_element, attribute, value| {
                if !matches!(attribute, "href" | "src" | "cite" | "action" | "srcset") {
                    return Some(Cow::Borrowed(value));
                }
                match url::Url::parse(value.trim()) {
                    // A relative link stays on this site.
                    Err(url::ParseError::RelativeUrlWithoutBase) => {
                        let v = value.trim_start();
                        (!v.starts_with("//") && !v.starts_with("\\\\") && !v.starts_with("/\\"))
                            .then_some(Cow::Borrowed(value))
                    }
                    Ok(url) if url.host_str().is_some_and(|host| domains.contains(host)) => {
                        Some(Cow::Borrowed(value))
                    }
                    Ok(url) if url.scheme() == "mailto" => Some(Cow::Borrowed(value)),
                    _ => None,
                }
            });
        }
        Self {
            sanitizer,
            protocols,
        }
    }

    /// Sanitises untrusted HTML: see [`shtml`]; links and sources to hosts outside the domain
    /// white list (when set) are removed.
    pub fn shtml(&self, html: &str) -> String {
        self.sanitizer.clean(html).to_string()
    }

    /// `url` HTML-escaped when its scheme is `http`, `https` or in the protocol white list;
    /// `""` otherwise: see [`surl`].
    pub fn surl<'a>(&self, url: &'a str) -> Cow<'a, str> {
        if scheme_allowed(url, &self.protocols) {
            escape(url)
        } else {
            Cow::Borrowed("")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg/onload=alert(1)>",
        "\"><script>alert(1)</script>",
        "'-alert(1)-'",
        "javascript:alert(1)",
        "&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;",
        "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<iframe src=\"data:text/html,<script>alert(1)</script>\"></iframe>",
        "</script><script>alert(1)</script>",
        "<body onload=alert(1)>",
        "\u{2028}alert(1)",
    ];

    #[test]
    fn escape_leaves_no_markup_or_quote() {
        for vector in VECTORS {
            let out = escape(vector);
            assert!(!out.contains(['<', '>', '"', '\'']), "{vector} -> {out}");
        }
        // Entities in the input are escaped again, not decoded.
        assert_eq!(escape("&#x3C;"), "&amp;#x3C;");
    }

    #[test]
    fn sjs_leaves_nothing_that_ends_a_string_or_a_script() {
        for vector in VECTORS {
            let out = sjs(vector);
            assert!(
                !out.contains(['<', '>', '"', '\'', '&', '/', '\n', '\u{2028}', ';', '(']),
                "{vector} -> {out}"
            );
        }
        assert_eq!(sjs("a\\b"), r"a\x5Cb");
        assert_eq!(sjs("😀"), r"\uD83D\uDE00");
    }

    #[test]
    fn sjson_output_is_json_and_script_safe() {
        for vector in VECTORS {
            let out = sjson(&serde_json::json!({ *vector: vector })).unwrap();
            assert!(!out.contains(['<', '>', '\'', '&', '\u{2028}']), "{out}");
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(back[*vector], *vector);
        }
    }

    #[test]
    fn shtml_removes_scripts_handlers_and_bad_urls() {
        for vector in VECTORS {
            let out = shtml(vector);
            let lower = out.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{vector} -> {out}");
            assert!(!lower.contains("onerror"), "{vector} -> {out}");
            assert!(!lower.contains("onload"), "{vector} -> {out}");
            assert!(!lower.contains("=\"javascript:"), "{vector} -> {out}");
            assert!(!lower.contains("<iframe"), "{vector} -> {out}");
        }
        assert_eq!(shtml("<b>bold</b> <i>it</i>"), "<b>bold</b> <i>it</i>");
        assert_eq!(
            shtml(r#"<a href="javascript:alert(1)">x</a>"#),
            r#"<a rel="noopener noreferrer">x</a>"#
        );
    }

    #[test]
    fn shtml_with_a_white_list_drops_foreign_links_and_images() {
        let helpers = Helpers::new(["example.com"], Vec::<String>::new());
        let out = helpers.shtml(
            r#"<img src="https://tracker.evil/p.gif"><img src="/local.png"><a href="//evil.org/">p</a><a href="https://cdn.example.com/a">ok</a>"#,
        );
        assert!(!out.contains("evil"), "{out}");
        assert!(out.contains(r#"src="/local.png""#), "{out}");
        assert!(out.contains(r#"href="https://cdn.example.com/a""#), "{out}");
    }

    #[test]
    fn surl_refuses_script_schemes_however_disguised() {
        for url in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "  javascript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "jav&#x61;script:alert(1)",
        ] {
            assert_eq!(surl(url), "", "{url:?}");
        }
        assert_eq!(surl("\"><script>"), "&quot;&gt;&lt;script&gt;");
        assert_eq!(surl("page?x=javascript:1"), "page?x=javascript:1");
    }

    #[test]
    fn spath_rejects_traversal_in_any_encoding() {
        for path in [
            "..",
            "a/../../b",
            "%2e%2e/x",
            "%252e%252e%252fetc",
            "a\\..\\..\\b",
            "C:\\Windows",
            "/abs",
            "file\0.txt",
            "%2fetc",
        ] {
            assert_eq!(spath(path), None, "{path}");
        }
        assert_eq!(spath("a/b..c/d").as_deref(), Some("a/b..c/d"));
        assert_eq!(
            spath("name%20with%20spaces").as_deref(),
            Some("name with spaces")
        );
    }

    #[test]
    fn shell_args_cannot_break_out() {
        for arg in ["'", "a' b", "\"; id", "$HOME", "a\nb", "\\'"] {
            let quoted = escape_shell_arg(arg);
            assert!(quoted.starts_with('\'') && quoted.ends_with('\''));
            let inner = &quoted[1..quoted.len() - 1];
            assert!(!inner.replace(r"'\''", "").contains('\''), "{quoted}");
        }
    }
}
