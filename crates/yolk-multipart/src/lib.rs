#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod body;
mod config;
mod error;
mod extract;
mod layer;
mod limits;
mod plugin;
mod service;
mod tmp;
mod whitelist;

pub use config::{MultipartConfig, RouteConfig};
pub use error::{BoxError, MultipartError};
pub use extract::{Field, Multipart, MultipartRejection, Upload};
pub use layer::MultipartLayer;
pub use limits::{ByteSize, GIB, KIB, LimitKind, Limits, MAX_PART_HEADER_BYTES, MIB};
pub use plugin::{MultipartPlugin, SWEEP_JOB};
pub use service::MultipartService;
pub use tmp::{SavedFile, Sweep, default_tmpdir, sweep};
pub use whitelist::{DEFAULT_EXTENSIONS, Whitelist, extension, sanitize_file_name};
