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
    /// A timing file is not the list of hook timings core writes.
    #[error("`{}` is not a list of hook timings: {source}", path.display())]
    Timing {
        /// The file.
        path: PathBuf,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
}
