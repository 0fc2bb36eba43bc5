//! Directory traversal: does a request path stay under the root?

/// Why a request path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// A `..` segment, encoded or not, climbs above `/`.
    Traversal,
    /// A `%` not followed by two hex digits.
    BadEncoding,
}

/// Checks a request path: `..` segments (also `%2e%2e`, `%252e%252e`, and `\` as a
/// separator) must not climb above the root.
pub(crate) fn check(path: &str) -> Result<(), PathProblem> {
    // The common path holds no dot, percent or backslash: nothing to do.
    if !path.bytes().any(|b| matches!(b, b'.' | b'%' | b'\\')) {
        return Ok(());
    }
    let mut bytes = std::borrow::Cow::Borrowed(path.as_bytes());
    for round in 0..3 {
        if !bytes.contains(&b'%') {
            break;
        }
        match percent_decode(&bytes) {
            Some(decoded) => bytes = std::borrow::Cow::Owned(decoded),
            None if round == 0 => return Err(PathProblem::BadEncoding),
            None => break,
        }
    }
    let mut depth: usize = 0;
    for segment in bytes.split(|&b| b == b'/' || b == b'\\') {
        match segment {
            b"" | b"." => {}
            b".." => {
                depth = depth.checked_sub(1).ok_or(PathProblem::Traversal)?;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Decodes `%HH` escapes; `None` when a `%` is not followed by two hex digits.
pub(crate) fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut index = 0;
    while index < input.len() {
        if input[index] == b'%' {
            let high = hex(*input.get(index + 1)?)?;
            let low = hex(*input.get(index + 2)?)?;
            out.push(high << 4 | low);
            index += 3;
        } else {
            out.push(input[index]);
            index += 1;
        }
    }
    Some(out)
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_the_root_pass() {
        for path in [
            "/",
            "/a/b",
            "/a/../b",
            "/a/./b",
            "/file.tar.gz",
            "/a/%2e%2e/b",
            "/..a",
        ] {
            assert_eq!(check(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn paths_climbing_out_fail() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/a/../../etc",
            "/%2e%2e/etc",
            "/%2E%2E%2Fetc",
            "/%252e%252e/etc",
            "/..\\etc",
            "/a\\..\\..\\etc",
        ] {
            assert_eq!(check(path), Err(PathProblem::Traversal), "{path}");
        }
        assert_eq!(check("/%zz"), Err(PathProblem::BadEncoding));
    }
}
