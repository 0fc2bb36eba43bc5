//! The `[multipart]` section: [`MultipartConfig`], with Egg's defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use yolk_core::middleware::PathPattern;

use crate::limits::{ByteSize, KIB, Limits, MIB};
use crate::tmp::default_tmpdir;
use crate::whitelist::Whitelist;

/// The `[multipart]` section.
///
/// ```toml
/// [multipart]
/// file_size = "10mb"
/// file_extensions = [".pdf"]
///
/// [[multipart.routes]]
/// match = "/videos"
/// file_size = "2gb"
/// files = 1
/// ```
///
/// ```
/// use yolk_multipart::{ByteSize, MultipartConfig};
///
/// let config: MultipartConfig = toml::from_str(r#"
///     file_size = "20mb"
///     [[routes]]
///     match = "/videos"
///     file_size = "2gb"
/// "#)?;
/// assert_eq!(config.limits().file_size, ByteSize(20 * 1024 * 1024));
/// assert_eq!(config.limits().files, 10);
/// assert_eq!(config.routes[0].limits(&config.limits()).file_size, ByteSize(2 << 30));
/// assert!(toml::from_str::<MultipartConfig>("filesize = 1").is_err());
/// # Ok::<_, toml::de::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultipartConfig {
    /// Where file mode saves uploads, under `YYYY/MM/DD/HH/`. Default: the OS temp dir, then
    /// `yolk-multipart`.
    pub tmpdir: PathBuf,
    /// The largest file, in bytes or as `"10mb"`. Default: `"10mb"`.
    pub file_size: ByteSize,
    /// The most files per request. Default: `10`.
    pub files: usize,
    /// The most non-file fields per request. Default: `10`.
    pub fields: usize,
    /// The largest non-file field value, in bytes or as `"100kb"`. Default: `"100kb"`.
    pub field_size: ByteSize,
    /// The longest field name, in bytes. Default: `100`.
    pub field_name_size: usize,
    /// The largest request body, in bytes or as `"200mb"`. Default: unset, meaning what the
    /// other limits allow (about 101 MiB with Egg's).
    pub body_size: Option<ByteSize>,
    /// Extensions added to Egg's whitelist (Egg's `fileExtensions`); `""` allows names
    /// without an extension. Default: none.
    pub file_extensions: Vec<String>,
    /// Extensions replacing Egg's whitelist (and `file_extensions`). Default: unset.
    pub whitelist: Option<Vec<String>>,
    /// How often the agent sweeps `tmpdir` for files left by crashed requests (the
    /// `multipart.sweep` job, which also runs once at start), in seconds; `0` turns the sweep
    /// off. Default: `3600`.
    pub sweep_interval_secs: u64,
    /// How old a temp file must be for the sweep to remove it, in seconds. Default: `86400`
    /// (one day, as Egg keeps them).
    pub sweep_max_age_secs: u64,
    /// Limits for some paths, the first matching pattern winning. Default: none.
    pub routes: Vec<RouteConfig>,
}

impl Default for MultipartConfig {
    fn default() -> Self {
        Self {
            tmpdir: default_tmpdir(),
            file_size: ByteSize(10 * MIB),
            files: 10,
            fields: 10,
            field_size: ByteSize(100 * KIB),
            field_name_size: 100,
            body_size: None,
            file_extensions: Vec::new(),
            whitelist: None,
            sweep_interval_secs: 3600,
            sweep_max_age_secs: 86_400,
            routes: Vec::new(),
        }
    }
}

impl MultipartConfig {
    /// The limits this section sets.
    ///
    /// ```
    /// assert_eq!(
    ///     yolk_multipart::MultipartConfig::default().limits(),
    ///     yolk_multipart::Limits::default()
    /// );
    /// ```
    pub fn limits(&self) -> Limits {
        Limits {
            file_size: self.file_size,
            files: self.files,
            fields: self.fields,
            field_size: self.field_size,
            field_name_size: self.field_name_size,
            body_size: self.body_size,
        }
    }

    /// The whitelist this section sets: `whitelist` when given, else Egg's plus
    /// `file_extensions`.
    ///
    /// ```
    /// let config = yolk_multipart::MultipartConfig {
    ///     file_extensions: vec![".pdf".into()],
    ///     ..Default::default()
    /// };
    /// assert!(config.whitelist().allows("a.pdf") && config.whitelist().allows("a.png"));
    /// ```
    pub fn whitelist(&self) -> Whitelist {
        whitelist(self.whitelist.as_deref(), &self.file_extensions)
    }
}

fn whitelist(replace: Option<&[String]>, add: &[String]) -> Whitelist {
    match replace {
        Some(list) => Whitelist::extensions(list.iter().chain(add)),
        None => Whitelist::default().with_extensions(add),
    }
}

/// Limits for the paths matching one pattern (a path prefix, a glob, or a regex starting with
/// `^`, as in `match` of middleware options). Unset keys take the section's values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The paths these limits apply to.
    #[serde(rename = "match")]
    pub path: PathPattern,
    /// See [`MultipartConfig::file_size`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<ByteSize>,
    /// See [`MultipartConfig::files`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// See [`MultipartConfig::fields`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<usize>,
    /// See [`MultipartConfig::field_size`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_size: Option<ByteSize>,
    /// See [`MultipartConfig::field_name_size`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name_size: Option<usize>,
    /// See [`MultipartConfig::body_size`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<ByteSize>,
    /// Extensions added to the section's whitelist for these paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_extensions: Vec<String>,
    /// Extensions replacing the whitelist for these paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist: Option<Vec<String>>,
}

impl RouteConfig {
    /// These paths' limits: this route's values over `base`.
    pub fn limits(&self, base: &Limits) -> Limits {
        Limits {
            file_size: self.file_size.unwrap_or(base.file_size),
            files: self.files.unwrap_or(base.files),
            fields: self.fields.unwrap_or(base.fields),
            field_size: self.field_size.unwrap_or(base.field_size),
            field_name_size: self.field_name_size.unwrap_or(base.field_name_size),
            body_size: self.body_size.or(base.body_size),
        }
    }

    /// These paths' whitelist: this route's list when given, else `base` plus this route's
    /// `file_extensions`.
    pub fn whitelist(&self, base: &Whitelist) -> Whitelist {
        match &self.whitelist {
            Some(list) => whitelist(Some(list), &self.file_extensions),
            None => base.clone().with_extensions(&self.file_extensions),
        }
    }
}
