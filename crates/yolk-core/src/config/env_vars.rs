//! The `YOLK_*` environment variables as a configuration layer.

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

use super::{ENV_PREFIX, ENV_VAR};

/// The metadata name figment records for values that came from a variable.
pub(super) const NAME: &str = "environment variable";

/// Variables that start with the prefix but are not config: the environment's name, and the
/// console log level (`YOLK_LOG`, read by the logger).
const RESERVED: &[&str] = &[ENV_VAR, "YOLK_LOG"];

/// `YOLK_A__B=v` becomes `a.b = v`, `v` parsed as a TOML scalar (`false`, `10`, `"text"`).
#[derive(Debug)]
pub(super) struct EnvVars {
    vars: Vec<(String, String)>,
}

impl EnvVars {
    pub(super) fn new<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .filter(|(key, _)| key.starts_with(ENV_PREFIX) && !RESERVED.contains(&key.as_str()))
            .collect();
        Self { vars }
    }

    /// The variable that sets the dotted `key`.
    pub(super) fn variable_for(key: &[&str]) -> String {
        format!("{ENV_PREFIX}{}", key.join("__").to_ascii_uppercase())
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named(NAME).interpolater(|_: &Profile, key: &[&str]| Self::variable_for(key))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (name, raw) in &self.vars {
            let path: Vec<String> = name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            if path.iter().any(String::is_empty) {
                continue;
            }
            let value: Value = raw.parse().expect("figment parses any string into a value");
            insert(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let mut child = match dict.remove(first) {
                Some(Value::Dict(_, child)) => child,
                _ => Dict::new(),
            };
            insert(&mut child, rest, value);
            dict.insert(first.clone(), Value::from(child));
        }
    }
}
