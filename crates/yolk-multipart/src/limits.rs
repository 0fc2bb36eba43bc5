//! [`Limits`] and [`ByteSize`]: how much an upload may hold.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One kibibyte, 1024 bytes.
pub const KIB: u64 = 1024;
/// One mebibyte, 1024 KiB.
pub const MIB: u64 = 1024 * KIB;
/// One gibibyte, 1024 MiB.
pub const GIB: u64 = 1024 * MIB;

/// The most a part's headers (with the boundary line before them) may take, in bytes: 16 KiB.
///
/// Longer headers are answered with `400 Bad Request`. Also bounds the preamble before the
/// first boundary.
pub const MAX_PART_HEADER_BYTES: u64 = 16 * KIB;

/// A number of bytes, written in config as an integer (`10485760`) or as Egg writes it
/// (`"10mb"`, `"100kb"`, `"1gb"`, `"10 MiB"`): units are powers of 1024.
///
/// ```
/// use yolk_multipart::ByteSize;
///
/// assert_eq!("10mb".parse::<ByteSize>()?, ByteSize(10 * 1024 * 1024));
/// assert_eq!("100 KiB".parse::<ByteSize>()?, ByteSize(100 * 1024));
/// assert_eq!("512".parse::<ByteSize>()?, ByteSize(512));
/// assert_eq!(ByteSize(10 * 1024 * 1024).to_string(), "10 MiB");
/// assert_eq!(ByteSize(1000).to_string(), "1000 bytes");
/// assert!("ten".parse::<ByteSize>().is_err());
/// # Ok::<_, String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
            if n >= unit && n.is_multiple_of(unit) {
                return write!(f, "{} {name}", n / unit);
            }
        }
        if n == 1 {
            f.write_str("1 byte")
        } else {
            write!(f, "{n} bytes")
        }
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let number: u64 = number.parse().map_err(|_| {
            format!(
                "`{text}` is not a size: expected a number of bytes or e.g. \"10mb\", \"100kb\""
            )
        })?;
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" | "byte" | "bytes" => 1,
            "k" | "kb" | "kib" => KIB,
            "m" | "mb" | "mib" => MIB,
            "g" | "gb" | "gib" => GIB,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{text}`: use b, kb, mb or gb (powers of 1024)"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(Self)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"10mb\"")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ByteSize, E> {
                u64::try_from(value)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<ByteSize, E> {
                value.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// The limits of one upload. Egg's defaults: files of 10 MiB, 10 files, 10 fields of 100 KiB,
/// field names of 100 bytes; the whole body limited to what those allow.
///
/// Every limit is inclusive: a file of exactly `file_size` bytes is accepted, one byte more is
/// answered with `413 Payload Too Large` naming the limit. Nothing is ever truncated.
///
/// ```
/// use yolk_multipart::{ByteSize, Limits, MIB};
///
/// let limits = Limits::default();
/// assert_eq!(limits.file_size, ByteSize(10 * MIB));
/// assert_eq!((limits.files, limits.fields, limits.field_name_size), (10, 10, 100));
/// // The body limit follows the other limits unless set:
/// assert!(limits.body_limit() > 100 * MIB && limits.body_limit() < 102 * MIB);
///
/// let video = Limits { file_size: ByteSize(2 * 1024 * MIB), files: 1, ..Limits::default() };
/// assert!(video.body_limit() > 2 * 1024 * MIB);
/// let capped = Limits { body_size: Some(ByteSize(MIB)), ..Limits::default() };
/// assert_eq!(capped.body_limit(), MIB);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The largest file, in bytes. Default: 10 MiB.
    pub file_size: ByteSize,
    /// The most files in one request. Default: `10`.
    pub files: usize,
    /// The most non-file fields in one request. Default: `10`.
    pub fields: usize,
    /// The largest non-file field value, in bytes. Default: 100 KiB.
    pub field_size: ByteSize,
    /// The longest field name, in bytes. Default: `100`.
    pub field_name_size: usize,
    /// The largest request body, in bytes. Default: none, meaning what the other limits allow
    /// (see [`Limits::body_limit`]).
    pub body_size: Option<ByteSize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            file_size: ByteSize(10 * MIB),
            files: 10,
            fields: 10,
            field_size: ByteSize(100 * KIB),
            field_name_size: 100,
            body_size: None,
        }
    }
}

impl Limits {
    /// The body limit in force: `body_size` when set, else the most a body within every other
    /// limit can take (each part's data, plus its boundary and headers, plus the closing
    /// boundary), so that the body limit never cuts off an upload the other limits accept.
    ///
    /// ```
    /// use yolk_multipart::{Limits, MAX_PART_HEADER_BYTES};
    ///
    /// let none = Limits { files: 0, fields: 0, ..Limits::default() };
    /// assert_eq!(none.body_limit(), MAX_PART_HEADER_BYTES);
    /// ```
    pub fn body_limit(&self) -> u64 {
        if let Some(ByteSize(size)) = self.body_size {
            return size;
        }
        let part = |count: usize, size: u64| {
            (count as u64).saturating_mul(size.saturating_add(MAX_PART_HEADER_BYTES))
        };
        part(self.files, self.file_size.0)
            .saturating_add(part(self.fields, self.field_size.0))
            .saturating_add(MAX_PART_HEADER_BYTES)
    }
}

/// Which limit an upload went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::file_size`].
    FileSize,
    /// [`Limits::files`].
    Files,
    /// [`Limits::fields`].
    Fields,
    /// [`Limits::field_size`].
    FieldSize,
    /// [`Limits::field_name_size`].
    FieldNameSize,
    /// [`Limits::body_limit`].
    BodySize,
}

impl LimitKind {
    /// The limit's config key: `file_size`, `files`, …
    ///
    /// ```
    /// assert_eq!(yolk_multipart::LimitKind::FileSize.key(), "file_size");
    /// ```
    pub fn key(self) -> &'static str {
        match self {
            Self::FileSize => "file_size",
            Self::Files => "files",
            Self::Fields => "fields",
            Self::FieldSize => "field_size",
            Self::FieldNameSize => "field_name_size",
            Self::BodySize => "body_size",
        }
    }

    /// The limit's value, as a message shows it: `10 MiB`, `10`, `100 bytes`.
    pub(crate) fn show(self, value: u64) -> String {
        match self {
            Self::Files | Self::Fields => value.to_string(),
            Self::FieldNameSize | Self::FileSize | Self::FieldSize | Self::BodySize => {
                ByteSize(value).to_string()
            }
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!("1gb".parse::<ByteSize>().unwrap(), ByteSize(GIB));
        assert_eq!(" 2 MB ".parse::<ByteSize>().unwrap(), ByteSize(2 * MIB));
        assert!("99999999999999999999gb".parse::<ByteSize>().is_err());
        assert!(
            "5 tb"
                .parse::<ByteSize>()
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert_eq!(ByteSize(1).to_string(), "1 byte");
        assert_eq!(ByteSize(1536).to_string(), "1536 bytes");
        assert_eq!(ByteSize(3 * GIB).to_string(), "3 GiB");
    }

    #[test]
    fn limits_from_toml() {
        let limits: Limits = toml::from_str("file_size = \"1kb\"\nfiles = 2").unwrap();
        assert_eq!(limits.file_size, ByteSize(1024));
        assert_eq!(limits.files, 2);
        assert_eq!(limits.fields, 10);
        let error = toml::from_str::<Limits>("file_sise = 1").unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }

    #[test]
    fn body_limit_saturates() {
        let huge = Limits {
            file_size: ByteSize(u64::MAX),
            ..Limits::default()
        };
        assert_eq!(huge.body_limit(), u64::MAX);
    }
}
