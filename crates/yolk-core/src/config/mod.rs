//! Layered, typed configuration.
//!
//! Four layers, lowest first, as in Egg:
//!
//! 1. each plugin's defaults (its config struct's `Default`, or what the app passed in code);
//! 2. `config/config.default.toml`;
//! 3. `config/config.{env}.toml` (`env` from `YOLK_ENV`, default `local`);
//! 4. environment variables `YOLK_<SECTION>__<KEY>`, parsed as TOML scalars
//!    (`YOLK_SECURITY__CSRF__ENABLE=false`, `YOLK_KEYS=a,b`).
//!
//! Tables merge key by key; arrays and scalars replace. Each plugin reads its own section with
//! [`Config::section`], which deserialises it into a typed struct: an unknown key or a wrong type
//! is a [`ConfigError`] naming the file (or variable), the key path and what was expected.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use yolk_core::Config;
//!
//! #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
//! #[serde(default, deny_unknown_fields)]
//! struct Greeting {
//!     text: String,
//!     repeat: u32,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("config"))?;
//! std::fs::write(dir.path().join("config/config.default.toml"), "[greeting]\ntext = \"hi\"\n")?;
//! std::fs::write(dir.path().join("config/config.prod.toml"), "[greeting]\nrepeat = 2\n")?;
//!
//! let vars = [("YOLK_GREETING__TEXT", "hello")];
//! let config = Config::load(dir.path(), "prod", vars)?;
//! let greeting = config.section("greeting", &Greeting::default())?;
//! assert_eq!(greeting, Greeting { text: "hello".into(), repeat: 2 });
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

mod app_config;
mod dump;
mod env_vars;
mod error;

pub use app_config::{AppConfig, KeyList, MiddlewareOptions};
pub use error::ConfigError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use figment::providers::{Format, Serialized, Toml};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::env_vars::EnvVars;

/// The prefix of environment variables that override configuration.
pub const ENV_PREFIX: &str = "YOLK_";

/// The variable naming the environment (`local` when unset).
pub const ENV_VAR: &str = "YOLK_ENV";

/// The environment used when `YOLK_ENV` is not set.
pub const DEFAULT_ENV: &str = "local";

/// The merged configuration of one app in one environment.
///
/// Built once at start-up by the loader; plugins read their section from it.
#[derive(Debug)]
pub struct Config {
    env: String,
    base_dir: PathBuf,
    figment: Figment,
    /// Every section read so far, as typed and re-serialised, with the source of each value:
    /// what `run/application_config.json` shows.
    effective: Mutex<BTreeMap<String, dump::Section>>,
}

impl Config {
    /// Loads `config/config.default.toml` and `config/config.{env}.toml` under `base_dir` (each
    /// optional), then the `YOLK_*` variables among `vars`.
    ///
    /// Pass `std::env::vars()` for the process environment, or a list in tests.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] when a file exists but cannot be read, [`ConfigError::Parse`] when
    /// it is not valid TOML (with the line and column), [`ConfigError::Invalid`] when a variable's
    /// value cannot be used.
    pub fn load<I, K, V>(base_dir: &Path, env: &str, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut figment = Figment::new();
        for file in Self::files(base_dir, env) {
            if let Some(text) = read_optional(&file)? {
                toml::from_str::<toml::Table>(&text).map_err(|error| ConfigError::Parse {
                    file: relative(base_dir, &file),
                    message: error.to_string(),
                })?;
                figment = figment.merge(Toml::file_exact(&file));
            }
        }
        figment = figment.merge(EnvVars::new(vars));
        Ok(Self {
            env: env.to_owned(),
            base_dir: base_dir.to_owned(),
            figment,
            effective: Mutex::default(),
        })
    }

    /// The config files read for `env`, lowest precedence first.
    pub fn files(base_dir: &Path, env: &str) -> [PathBuf; 2] {
        let dir = base_dir.join("config");
        [
            dir.join("config.default.toml"),
            dir.join(format!("config.{env}.toml")),
        ]
    }

    /// Overrides `key` (a dotted path) with `value`, above every other layer: for tests and for
    /// values decided in code.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let config = yolk_core::Config::load(dir.path(), "unittest", [("YOLK_KEYS", "from-env")])?
    ///     .with_value("keys", "from-code");
    /// assert_eq!(config.get::<String>("keys")?.as_deref(), Some("from-code"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_value<T: Serialize>(mut self, key: &str, value: T) -> Self {
        self.figment = self
            .figment
            .merge(FromCode(Serialized::default(key, value)));
        self
    }

    /// Sets `key` (a dotted path) to `value` below every file and variable: a default decided
    /// in code, reported as set in `code`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let config = yolk_core::Config::load(dir.path(), "unittest", [("YOLK_NAME", "from-env")])?
    ///     .with_default("name", "from-code");
    /// assert_eq!(config.get::<String>("name")?.as_deref(), Some("from-env"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_default<T: Serialize>(mut self, key: &str, value: T) -> Self {
        self.figment = Figment::from(FromCode(Serialized::default(key, value))).merge(self.figment);
        self
    }

    /// The environment's name: `local`, `unittest`, `prod`, or any other.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The app's base directory, where `config/` and `run/` live.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Reads the section `key` (a dotted path; `""` for the top level) into `T`, with `defaults`
    /// as the lowest layer.
    ///
    /// The result is recorded, with the source of each value, for the effective-config dump.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the file or variable, the full key path and the
    /// expected form, when a key is unknown to `T` or a value has the wrong type.
    pub fn section<T>(&self, key: &str, defaults: &T) -> Result<T, ConfigError>
    where
        T: Serialize + DeserializeOwned,
    {
        let (figment, value) = if key.is_empty() {
            let figment = Figment::from(Serialized::defaults(defaults)).merge(self.figment.clone());
            let value = figment.extract();
            (figment, value)
        } else {
            let figment =
                Figment::from(Serialized::default(key, defaults)).merge(self.figment.clone());
            let value = figment.extract_inner(key);
            (figment, value)
        };
        let value: T =
            value.map_err(|error| ConfigError::from_figment(error, key, &self.base_dir))?;
        let section = dump::Section::new(key, &value, &figment, &self.base_dir);
        self.effective
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.to_owned(), section);
        Ok(value)
    }

    /// Reads one value at `key` (a dotted path), if any layer sets it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        if !self.figment.contains(key) {
            return Ok(None);
        }
        self.figment
            .extract_inner(key)
            .map(Some)
            .map_err(|error| ConfigError::from_figment(error, key, &self.base_dir))
    }

    /// The top-level keys some layer sets, each with where it was set.
    pub fn top_level_keys(&self) -> Vec<(String, String)> {
        let Ok(dict) = self.figment.extract::<figment::value::Dict>() else {
            return Vec::new();
        };
        dict.into_keys()
            .map(|key| {
                let source = dump::describe(self.figment.find_metadata(&key), &key, &self.base_dir);
                (key, source)
            })
            .collect()
    }

    /// The effective configuration as JSON, secrets masked, with the source of each value:
    /// `{"env": .., "config": {..}, "sources": {"session.max_age": "default", ..}}`.
    pub fn dump(&self) -> serde_json::Value {
        let effective = self
            .effective
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        dump::render(&self.env, &effective)
    }

    /// Writes [`Config::dump`] to `run/application_config.json` under the base directory.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Write`] when `run/` cannot be created or the file cannot be written.
    pub fn write_dump(&self) -> Result<PathBuf, ConfigError> {
        let path = self.base_dir.join("run").join("application_config.json");
        let json = serde_json::to_vec_pretty(&self.dump()).expect("a JSON value always serialises");
        write_file(&path, &json)?;
        Ok(path)
    }
}

/// The metadata name of values set with [`Config::with_value`].
const CODE_SOURCE: &str = "code";

/// A provider whose values are reported as set in code.
struct FromCode<P>(P);

impl<P: Provider> Provider for FromCode<P> {
    fn metadata(&self) -> Metadata {
        Metadata::named(CODE_SOURCE)
    }

    fn data(&self) -> Result<figment::value::Map<Profile, figment::value::Dict>, figment::Error> {
        self.0.data()
    }
}

/// Writes `contents` to `path`, creating its directory.
pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let write = || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, contents)
    };
    write().map_err(|source| ConfigError::Write {
        file: path.to_owned(),
        source,
    })
}

fn read_optional(file: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            file: file.to_owned(),
            source,
        }),
    }
}

/// `file` relative to `base_dir` when it is inside it, for messages.
pub(crate) fn relative(base_dir: &Path, file: &Path) -> PathBuf {
    file.strip_prefix(base_dir).unwrap_or(file).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Csrf {
        enable: bool,
        header_name: String,
        methods: Vec<String>,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Security {
        csrf: Csrf,
        max_age: u64,
    }

    impl Default for Security {
        fn default() -> Self {
            Self {
                csrf: Csrf {
                    enable: true,
                    header_name: "x-csrf-token".into(),
                    methods: vec!["POST".into(), "PUT".into()],
                },
                max_age: 1,
            }
        }
    }

    fn app_dir(default: &str, env_file: Option<(&str, &str)>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/config.default.toml"), default).unwrap();
        if let Some((env, text)) = env_file {
            std::fs::write(dir.path().join(format!("config/config.{env}.toml")), text).unwrap();
        }
        dir
    }

    const NO_VARS: [(&str, &str); 0] = [];

    #[test]
    fn four_layers_in_order_with_sources() {
        let dir = app_dir(
            "[security]\nmax_age = 2\n[security.csrf]\nheader_name = \"x-token\"\nmethods = [\"POST\", \"PUT\", \"PATCH\"]\n",
            Some((
                "prod",
                "[security]\nmax_age = 3\n[security.csrf]\nmethods = [\"DELETE\"]\n",
            )),
        );
        let vars = [("YOLK_SECURITY__CSRF__ENABLE", "false"), ("UNRELATED", "x")];
        let config = Config::load(dir.path(), "prod", vars).unwrap();
        let security = config.section("security", &Security::default()).unwrap();
        assert_eq!(
            security,
            Security {
                csrf: Csrf {
                    enable: false,
                    header_name: "x-token".into(),
                    // arrays replace, they do not append
                    methods: vec!["DELETE".into()],
                },
                max_age: 3,
            }
        );
        let dump = config.dump();
        let sources = &dump["sources"];
        assert_eq!(
            sources["security.csrf.enable"],
            "YOLK_SECURITY__CSRF__ENABLE"
        );
        assert_eq!(
            sources["security.csrf.header_name"],
            "config/config.default.toml"
        );
        assert_eq!(sources["security.csrf.methods"], "config/config.prod.toml");
        assert_eq!(sources["security.max_age"], "config/config.prod.toml");
        assert_eq!(dump["config"]["security"]["csrf"]["methods"][0], "DELETE");
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path(), "local", NO_VARS).unwrap();
        let security = config.section("security", &Security::default()).unwrap();
        assert_eq!(security, Security::default());
        assert_eq!(config.dump()["sources"]["security.max_age"], "default");
    }

    #[test]
    fn env_file_of_another_env_is_ignored() {
        let dir = app_dir("", Some(("prod", "[security]\nmax_age = 3\n")));
        let config = Config::load(dir.path(), "local", NO_VARS).unwrap();
        assert_eq!(
            config
                .section("security", &Security::default())
                .unwrap()
                .max_age,
            1
        );
    }

    #[test]
    fn unknown_key_names_file_and_key_path() {
        let dir = app_dir("[security.csrf]\nenabel = true\n", None);
        let config = Config::load(dir.path(), "local", NO_VARS).unwrap();
        let error = config
            .section("security", &Security::default())
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("config/config.default.toml"), "{message}");
        assert!(message.contains("`security.csrf.enabel`"), "{message}");
        assert!(message.contains("unknown key"), "{message}");
        assert!(message.contains("`header_name`"), "{message}");
    }

    #[test]
    fn wrong_type_names_file_key_and_expected_type() {
        let dir = app_dir("", Some(("unittest", "[security]\nmax_age = \"soon\"\n")));
        let config = Config::load(dir.path(), "unittest", NO_VARS).unwrap();
        let message = config
            .section("security", &Security::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("config/config.unittest.toml"), "{message}");
        assert!(message.contains("`security.max_age`"), "{message}");
        assert!(message.contains("u64"), "{message}");
    }

    #[test]
    fn wrong_type_from_env_var_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [("YOLK_SECURITY__MAX_AGE", "soon")];
        let config = Config::load(dir.path(), "local", vars).unwrap();
        let message = config
            .section("security", &Security::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("YOLK_SECURITY__MAX_AGE"), "{message}");
        assert!(message.contains("`security.max_age`"), "{message}");
    }

    #[test]
    fn invalid_toml_names_the_file_and_line() {
        let dir = app_dir("[security\nmax_age = 1\n", None);
        let message = Config::load(dir.path(), "local", NO_VARS)
            .unwrap_err()
            .to_string();
        assert!(message.contains("config/config.default.toml"), "{message}");
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn code_values_win_over_env_vars() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path(), "local", [("YOLK_SECURITY__MAX_AGE", "5")])
            .unwrap()
            .with_value("security.max_age", 9);
        assert_eq!(
            config
                .section("security", &Security::default())
                .unwrap()
                .max_age,
            9
        );
    }
}
