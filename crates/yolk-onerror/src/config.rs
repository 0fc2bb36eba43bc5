//! [`OnErrorConfig`]: the `[onerror]` section.

use serde::{Deserialize, Serialize};

/// The `[onerror]` section, with Egg's defaults.
///
/// ```toml
/// [onerror]
/// error_page_url = "/50x.html"
///
/// [onerror.notfound]
/// page_url = "/404.html"
/// ```
///
/// ```
/// let config = yolk_onerror::OnErrorConfig::default();
/// assert_eq!(config.error_page_url, "");
/// assert!(config.notfound.enable);
/// assert_eq!(config.notfound.page_url, "");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnErrorConfig {
    /// Outside `local` and `unittest`, HTML clients that hit a 5xx are redirected here, with
    /// `real_status=CODE` added to the query (Egg's `errorPageUrl`). A path or a URL.
    /// Default: `""` (no redirect: a plain `<h2>500 Internal Server Error</h2>` page).
    pub error_page_url: String,
    /// Requests nothing handled: `[onerror.notfound]`.
    pub notfound: NotFoundConfig,
}

/// The `[onerror.notfound]` section: requests nothing handled (Egg's `notfound`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotFoundConfig {
    /// Answer them with `{"message":"Not Found"}` or `<h1>404 Not Found</h1>`; `false` leaves
    /// axum's empty 404. Default: `true`.
    pub enable: bool,
    /// HTML clients are redirected here instead (Egg's `notfound.pageUrl`). A path or a URL.
    /// Default: `""` (no redirect).
    pub page_url: String,
}

impl Default for OnErrorConfig {
    fn default() -> Self {
        Self {
            error_page_url: String::new(),
            notfound: NotFoundConfig {
                enable: true,
                page_url: String::new(),
            },
        }
    }
}

impl Default for NotFoundConfig {
    fn default() -> Self {
        OnErrorConfig::default().notfound
    }
}
