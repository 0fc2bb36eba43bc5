use std::path::{Path, PathBuf};

use figment::error::Kind;

/// Why the configuration could not be loaded: each variant names the file (or variable), the
/// key and the expected form, so the message alone tells what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file exists but could not be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A config file is not valid TOML.
    #[error("{}: {message}", file.display())]
    Parse {
        /// The file, relative to the app's base directory.
        file: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value does not fit the section's type: an unknown key, a wrong type, a bad value.
    #[error("{origin}: key `{key}`: {problem}")]
    Invalid {
        /// Where the value came from: a file relative to the base directory, an environment
        /// variable, or `default`.
        origin: String,
        /// The full dotted key path.
        key: String,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// A top-level section that no plugin and no app setting reads.
    #[error(
        "{origin}: unknown section `{key}`: it is neither an app setting nor a registered plugin \
         (known: {known})"
    )]
    UnknownSection {
        /// Where the section was set.
        origin: String,
        /// The section's name.
        key: String,
        /// The names that are accepted, comma-separated.
        known: String,
    },
    /// A file under `run/` could not be written.
    #[error("cannot write {}: {source}", file.display())]
    Write {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// Converts figment's error for a value read at `section` (a dotted key, `""` for the top).
    pub(crate) fn from_figment(error: figment::Error, section: &str, base_dir: &Path) -> Self {
        // figment appends the key given to `extract_inner` after the path inside it.
        let mut path = error.path.clone();
        if !section.is_empty() && path.last().is_some_and(|last| last == section) {
            path.pop();
            path.insert(0, section.to_owned());
        }
        let key = path.join(".");
        let origin = super::dump::describe(error.metadata.as_ref(), &key, base_dir);
        let problem = match &error.kind {
            Kind::UnknownField(field, expected) => format!(
                "unknown key `{field}`; expected one of {}",
                expected
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::InvalidType(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            kind => kind.to_string(),
        };
        Self::Invalid {
            origin,
            key,
            problem,
        }
    }
}
