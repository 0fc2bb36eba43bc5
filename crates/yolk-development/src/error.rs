//! The crate's one error type.

use std::path::PathBuf;

/// What went wrong in the development tools.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevelopmentError {
    /// A file or directory could not be read or written.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A timing file is not the boot timeline core and the cluster's master write
    /// (`{"booted_at_unix_ms": …, "steps": [{"plugin", "hook", "start_ms", "duration_ms"}, …]}`).
    #[error(
        "`{}` is not a boot timeline (`booted_at_unix_ms` and a list of `steps`): {source}; \
         a file left by an older version can be deleted",
        path.display()
    )]
    Timing {
        /// The file.
        path: PathBuf,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
}
