//! The effective configuration, secrets masked, with the source of every value.

use std::collections::BTreeMap;
use std::path::Path;

use figment::{Figment, Metadata, Profile, Source};
use serde::Serialize;
use serde_json::{Map, Value};

use super::env_vars;

/// Key names whose values are secrets wherever they appear, compared in lower case.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "pwd",
    "token",
    "credential",
    "private",
];

/// One section as read by a plugin.
#[derive(Debug)]
pub(super) struct Section {
    value: Value,
    sources: BTreeMap<String, String>,
}

impl Section {
    pub(super) fn new<T: Serialize>(key: &str, value: &T, figment: &Figment, base: &Path) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        let mut sources = BTreeMap::new();
        collect_sources(key, &value, figment, base, &mut sources);
        Self { value, sources }
    }
}

fn collect_sources(
    path: &str,
    value: &Value,
    figment: &Figment,
    base: &Path,
    out: &mut BTreeMap<String, String>,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect_sources(&child_path, child, figment, base, out);
            }
        }
        _ => {
            let source = if figment.contains(path) {
                describe(figment.find_metadata(path), path, base)
            } else {
                "default".to_owned()
            };
            out.insert(path.to_owned(), source);
        }
    }
}

/// Where a value came from: a file relative to `base`, an environment variable, `code` or
/// `default`.
pub(super) fn describe(metadata: Option<&Metadata>, key: &str, base: &Path) -> String {
    let Some(metadata) = metadata else {
        return "default".to_owned();
    };
    match &metadata.source {
        Some(Source::File(file)) => super::relative(base, file).display().to_string(),
        _ if metadata.name == env_vars::NAME => {
            let parts: Vec<&str> = key.split('.').collect();
            metadata.interpolate(&Profile::Default, &parts)
        }
        _ if metadata.name == super::CODE_SOURCE => "code".to_owned(),
        _ => "default".to_owned(),
    }
}

pub(super) fn render(env: &str, sections: &BTreeMap<String, Section>) -> Value {
    let mut config = Map::new();
    let mut sources = Map::new();
    for (key, section) in sections {
        let mut value = section.value.clone();
        mask(key.rsplit('.').next().unwrap_or(key), &mut value);
        if key.is_empty() {
            if let Value::Object(root) = value {
                config.extend(root);
            }
        } else {
            config.insert(key.clone(), value);
        }
        for (path, source) in &section.sources {
            sources.insert(path.clone(), Value::String(source.clone()));
        }
    }
    serde_json::json!({ "env": env, "config": config, "sources": sources })
}

/// True when a key of this name holds a secret: `keys`, `*_key(s)`, or a name containing a
/// secret word (`password`, `token`, …).
pub(crate) fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "keys"
        || name.ends_with("_key")
        || name.ends_with("_keys")
        || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// Masks, at any depth, the values of secret keys: a string shows only its length.
fn mask(name: &str, value: &mut Value) {
    if is_secret(name) {
        mask_all(value);
        return;
    }
    match value {
        Value::Object(map) => map.iter_mut().for_each(|(key, child)| mask(key, child)),
        Value::Array(items) => items.iter_mut().for_each(|item| mask(name, item)),
        _ => {}
    }
}

fn mask_all(value: &mut Value) {
    match value {
        Value::String(text) => *value = Value::String(format!("<masked: {} chars>", text.len())),
        Value::Array(items) => items.iter_mut().for_each(mask_all),
        Value::Object(map) => map.values_mut().for_each(mask_all),
        Value::Null => {}
        _ => *value = Value::String("<masked>".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "keys",
            "KEYS",
            "access_key",
            "api_keys",
            "db_password",
            "token",
            "client_secret",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in ["key", "max_keys_count", "keyboard", "name", "max_age"] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn masks_at_any_depth() {
        let mut value = serde_json::json!({
            "name": "blog",
            "keys": ["abcdef", "xyz"],
            "redis": { "url": "redis://127.0.0.1", "password": "hunter2", "pool": { "auth_token": 42 } },
            "list": [ { "secret": "s" } ],
        });
        mask("", &mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "name": "blog",
                "keys": ["<masked: 6 chars>", "<masked: 3 chars>"],
                "redis": { "url": "redis://127.0.0.1", "password": "<masked: 7 chars>", "pool": { "auth_token": "<masked>" } },
                "list": [ { "secret": "<masked: 1 chars>" } ],
            })
        );
    }
}
