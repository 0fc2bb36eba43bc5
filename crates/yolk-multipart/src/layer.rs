//! [`MultipartLayer`]: the upload settings of every route it wraps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tower_layer::Layer;
use yolk_core::middleware::PathPattern;

use crate::config::MultipartConfig;
use crate::limits::Limits;
use crate::service::MultipartService;
use crate::tmp::default_tmpdir;
use crate::whitelist::Whitelist;

/// The limits, whitelist and temp dir of one request.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) limits: Limits,
    pub(crate) whitelist: Whitelist,
    pub(crate) tmpdir: Arc<Path>,
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) default: Arc<Policy>,
    pub(crate) routes: Vec<(PathPattern, Arc<Policy>)>,
}

impl Settings {
    pub(crate) fn policy_for(&self, path: &str) -> &Arc<Policy> {
        self.routes
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map_or(&self.default, |(_, policy)| policy)
    }
}

/// Gives the [`Multipart`](crate::Multipart) and [`Upload`](crate::Upload) extractors their
/// limits, whitelist and temp dir: globally, per path pattern.
///
/// The layer does nothing to requests that are not `multipart/*`, and parses nothing itself:
/// the body is read only when a handler extracts it. It also sets the body limit of the
/// routes it wraps from the upload limits ([`Limits::body_limit`]), in place of axum's 2 MB
/// default.
///
/// ```
/// use axum::{Router, routing::post};
/// use yolk_multipart::{ByteSize, Limits, MultipartLayer, Upload, Whitelist};
///
/// async fn upload(upload: Upload) -> String {
///     upload.files.len().to_string()
/// }
///
/// let layer = MultipartLayer::new()
///     .with_limits(Limits { files: 3, ..Limits::default() })
///     .with_whitelist(Whitelist::default().with_extensions([".pdf"]))
///     .with_route("/videos".parse()?, Limits { file_size: ByteSize(1 << 30), files: 1, ..Limits::default() });
/// assert_eq!(layer.limits_for("/videos/new").files, 1);
/// assert_eq!(layer.limits_for("/docs").files, 3);
/// let app: Router = Router::new().route("/docs", post(upload)).layer(layer);
/// # Ok::<_, yolk_core::middleware::PatternError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MultipartLayer {
    settings: Arc<Settings>,
}

impl Default for MultipartLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl MultipartLayer {
    /// Egg's limits and whitelist, temp files under [`default_tmpdir`].
    ///
    /// ```
    /// let layer = yolk_multipart::MultipartLayer::new();
    /// assert_eq!(layer.limits_for("/"), yolk_multipart::Limits::default());
    /// assert_eq!(layer.tmpdir(), yolk_multipart::default_tmpdir());
    /// ```
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                default: Arc::new(Policy {
                    limits: Limits::default(),
                    whitelist: Whitelist::default(),
                    tmpdir: default_tmpdir().into(),
                }),
                routes: Vec::new(),
            }),
        }
    }

    /// Everything a `[multipart]` section sets: limits, whitelist, temp dir, per-path limits.
    ///
    /// ```
    /// use yolk_multipart::{MultipartConfig, MultipartLayer};
    ///
    /// let config: MultipartConfig = toml::from_str("files = 2\n[[routes]]\nmatch = \"/one\"\nfiles = 1")?;
    /// let layer = MultipartLayer::from_config(&config);
    /// assert_eq!((layer.limits_for("/one").files, layer.limits_for("/two").files), (1, 2));
    /// # Ok::<_, toml::de::Error>(())
    /// ```
    pub fn from_config(config: &MultipartConfig) -> Self {
        let tmpdir: Arc<Path> = config.tmpdir.as_path().into();
        let limits = config.limits();
        let whitelist = config.whitelist();
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let policy = Policy {
                    limits: route.limits(&limits),
                    whitelist: route.whitelist(&whitelist),
                    tmpdir: Arc::clone(&tmpdir),
                };
                (route.path.clone(), Arc::new(policy))
            })
            .collect();
        Self {
            settings: Arc::new(Settings {
                default: Arc::new(Policy {
                    limits,
                    whitelist,
                    tmpdir,
                }),
                routes,
            }),
        }
    }

    /// The limits of paths no [`with_route`](Self::with_route) pattern matches. Default:
    /// [`Limits::default`] (Egg's).
    ///
    /// ```
    /// let layer = yolk_multipart::MultipartLayer::new()
    ///     .with_limits(yolk_multipart::Limits { fields: 50, ..Default::default() });
    /// assert_eq!(layer.limits_for("/any").fields, 50);
    /// ```
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut Arc::make_mut(&mut self.settings).default).limits = limits;
        self
    }

    /// The whitelist of every path, routes added by [`with_route`](Self::with_route) included.
    /// Default: [`Whitelist::default`] (Egg's).
    ///
    /// ```
    /// use yolk_multipart::{MultipartLayer, Whitelist};
    ///
    /// let layer = MultipartLayer::new().with_whitelist(Whitelist::extensions([".txt"]));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Whitelist) -> Self {
        let settings = Arc::make_mut(&mut self.settings);
        for policy in std::iter::once(&mut settings.default)
            .chain(settings.routes.iter_mut().map(|(_, policy)| policy))
        {
            Arc::make_mut(policy).whitelist = whitelist.clone();
        }
        self
    }

    /// Where file mode saves uploads, for every path. Default: [`default_tmpdir`].
    ///
    /// ```
    /// let layer = yolk_multipart::MultipartLayer::new().with_tmpdir("/var/tmp/uploads");
    /// assert_eq!(layer.tmpdir(), std::path::Path::new("/var/tmp/uploads"));
    /// ```
    #[must_use]
    pub fn with_tmpdir(mut self, tmpdir: impl Into<PathBuf>) -> Self {
        let tmpdir: Arc<Path> = tmpdir.into().into();
        let settings = Arc::make_mut(&mut self.settings);
        for policy in std::iter::once(&mut settings.default)
            .chain(settings.routes.iter_mut().map(|(_, policy)| policy))
        {
            Arc::make_mut(policy).tmpdir = Arc::clone(&tmpdir);
        }
        self
    }

    /// `limits` for the paths `pattern` matches; the first pattern added that matches wins.
    ///
    /// ```
    /// use yolk_multipart::{Limits, MultipartLayer};
    ///
    /// let layer = MultipartLayer::new()
    ///     .with_route("/a".parse()?, Limits { files: 1, ..Default::default() })
    ///     .with_route("^/a/b".parse()?, Limits { files: 2, ..Default::default() });
    /// assert_eq!(layer.limits_for("/a/b").files, 1);
    /// # Ok::<_, yolk_core::middleware::PatternError>(())
    /// ```
    #[must_use]
    pub fn with_route(mut self, pattern: PathPattern, limits: Limits) -> Self {
        let settings = Arc::make_mut(&mut self.settings);
        let policy = Policy {
            limits,
            ..Policy::clone(&settings.default)
        };
        settings.routes.push((pattern, Arc::new(policy)));
        self
    }

    /// The limits a request to `path` gets.
    pub fn limits_for(&self, path: &str) -> Limits {
        self.settings.policy_for(path).limits
    }

    /// Where file mode saves uploads.
    pub fn tmpdir(&self) -> &Path {
        &self.settings.default.tmpdir
    }
}

impl<S> Layer<S> for MultipartLayer {
    type Service = MultipartService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MultipartService::new(inner, Arc::clone(&self.settings))
    }
}
