//! The `[development]` config section.

use serde::{Deserialize, Serialize};

/// The `[development]` section. The plugin serves its pages in the `local` environment only.
///
/// ```
/// let config = yolk_development::DevelopmentConfig::default();
/// assert_eq!(config.trace_path, "/__loader_trace__");
/// assert!(config.trace_live_only);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevelopmentConfig {
    /// Where the boot trace page is served. Default: `"/__loader_trace__"` (Egg's path).
    pub trace_path: String,
    /// Show only the processes still running, not every timing file left in `run/` by earlier
    /// runs. Default: `true`.
    pub trace_live_only: bool,
}

impl Default for DevelopmentConfig {
    fn default() -> Self {
        Self {
            trace_path: "/__loader_trace__".to_owned(),
            trace_live_only: true,
        }
    }
}
