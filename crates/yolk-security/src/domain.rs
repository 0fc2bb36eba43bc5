//! Host white lists: an entry matches itself and its subdomains; `*` globs.

/// A compiled host white list, as `domain_white_list` and `referer_white_list` use it.
///
/// Entries are compared in their ASCII (punycode) form, so `例え.jp` in the list matches
/// `xn--r8jz45g.jp` in a URL, and a look-alike host in Cyrillic does not match its Latin twin.
///
/// ```
/// use yolk_security::DomainList;
///
/// let list = DomainList::new(["example.com", "*.cdn.net"]);
/// assert!(list.contains("example.com"));
/// assert!(list.contains("api.example.com"));
/// assert!(!list.contains("badexample.com"));
/// assert!(list.contains("eu.cdn.net"));
/// assert!(!list.contains("cdn.net.evil.org"));
/// assert!(!list.contains("еxample.com")); // Cyrillic `е`
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainList {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// Matches the host and its subdomains.
    Domain(String),
    /// `*` matches any run of characters.
    Glob(String),
}

impl DomainList {
    /// Compiles `entries`; empty entries are skipped.
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let entries = entries
            .into_iter()
            .filter_map(|entry| {
                let entry = entry.as_ref().trim().trim_end_matches('.');
                let entry = entry.strip_prefix('.').unwrap_or(entry);
                if entry.is_empty() {
                    return None;
                }
                if entry.contains('*') {
                    Some(Entry::Glob(entry.to_ascii_lowercase()))
                } else {
                    Some(Entry::Domain(ascii_host(entry)))
                }
            })
            .collect();
        Self { entries }
    }

    /// True when no entry is set.
    ///
    /// ```
    /// assert!(yolk_security::DomainList::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when `host` (a bare host: no scheme, no port) matches an entry.
    pub fn contains(&self, host: &str) -> bool {
        let host = ascii_host(host.trim_end_matches('.'));
        self.entries.iter().any(|entry| match entry {
            Entry::Domain(domain) => {
                host == *domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
            Entry::Glob(glob) => glob_match(glob.as_bytes(), host.as_bytes()),
        })
    }
}

/// The ASCII, lower-case form of a host; unparsable hosts are only lower-cased.
pub(crate) fn ascii_host(host: &str) -> String {
    match url::Host::parse(host) {
        Ok(url::Host::Domain(domain)) => domain,
        Ok(url::Host::Ipv4(ip)) => ip.to_string(),
        Ok(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// The host of a `Host` header value: without the port, lower-cased.
pub(crate) fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_themselves_and_subdomains_only() {
        let list = DomainList::new(["Example.COM", ".other.org"]);
        assert!(list.contains("EXAMPLE.com"));
        assert!(list.contains("a.b.example.com"));
        assert!(!list.contains("wwwexample.com"));
        assert!(!list.contains("example.com.evil.net"));
        assert!(list.contains("x.other.org"));
        assert!(list.contains("other.org"));
    }

    #[test]
    fn globs() {
        let list = DomainList::new(["*.example.com", "img*.cdn.net"]);
        assert!(list.contains("a.example.com"));
        assert!(!list.contains("example.com"));
        assert!(list.contains("img01.cdn.net"));
        assert!(!list.contains("static.cdn.net"));
    }

    #[test]
    fn idn_entries_match_their_punycode() {
        let list = DomainList::new(["bücher.de"]);
        assert!(list.contains("xn--bcher-kva.de"));
        assert!(list.contains("shop.bücher.de"));
        assert!(!list.contains("bucher.de"));
    }

    #[test]
    fn ports_are_stripped_from_authorities() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("example.com"), "example.com");
    }
}
