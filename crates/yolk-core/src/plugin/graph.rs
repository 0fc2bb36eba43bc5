//! The plugin graph: which plugins are enabled, in what order they start.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;

/// An invalid plugin graph, found at start-up; each names the plugins involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// Two plugins share a name.
    #[error("two plugins are named `{name}`; a plugin's name must be unique in an app")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// An enabled plugin requires a plugin that is not registered.
    #[error(
        "plugin `{name}` is required by {} but is not registered: add it with \
         `App::builder().plugin(..)`",
        quoted(required_by)
    )]
    Missing {
        /// The missing plugin.
        name: String,
        /// The plugins that require it.
        required_by: Vec<String>,
    },
    /// An enabled plugin requires a plugin that is disabled.
    #[error(
        "plugin `{name}` is disabled ({disabled_in}) but is required by {}: enable it, or \
         disable them too",
        quoted(required_by)
    )]
    Disabled {
        /// The disabled plugin.
        name: String,
        /// Where it was disabled.
        disabled_in: String,
        /// The plugins that require it.
        required_by: Vec<String>,
    },
    /// The dependencies form a cycle.
    #[error("plugin dependency cycle: {path}")]
    Cycle {
        /// The cycle, as `a -> b -> a`.
        path: String,
    },
    /// A plugin file names a plugin that is not registered.
    #[error(
        "{file}: plugin `{name}` is not registered; registered plugins: {known}. Add it with \
         `App::builder().plugin(..)` or remove its section"
    )]
    Unknown {
        /// The plugin file.
        file: String,
        /// The unknown name.
        name: String,
        /// The registered names.
        known: String,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One plugin's entry in `config/plugin.toml`:
///
/// ```toml
/// [session]
/// enable = false
///
/// [mock]
/// env = ["local", "unittest"]   # enabled only in these environments
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PluginSetting {
    enable: Option<bool>,
    env: Option<Vec<String>>,
}

/// Whether each plugin is enabled, and why not.
#[derive(Debug, Default)]
pub(crate) struct PluginSettings {
    /// Plugin name to (setting, file that set it last).
    entries: BTreeMap<String, (PluginSetting, String)>,
}

impl PluginSettings {
    /// Reads `config/plugin.toml`, then `config/plugin.{env}.toml` over it; both optional.
    pub(crate) fn load(base_dir: &Path, env: &str) -> Result<Self, ConfigError> {
        let mut settings = Self::default();
        for name in ["plugin.toml".to_owned(), format!("plugin.{env}.toml")] {
            let file = base_dir.join("config").join(&name);
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(ConfigError::Read { file, source }),
            };
            let parsed: BTreeMap<String, PluginSetting> =
                toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    file: Path::new("config").join(&name),
                    message: error.to_string(),
                })?;
            for (plugin, setting) in parsed {
                let entry = settings.entries.entry(plugin).or_default();
                entry.0.enable = setting.enable.or(entry.0.enable);
                entry.0.env = setting.env.or(entry.0.env.take());
                entry.1 = format!("config/{name}");
            }
        }
        Ok(settings)
    }

    /// `None` when `plugin` is enabled in `env`, else where it was disabled.
    fn disabled_in(&self, plugin: &str, env: &str, enabled_in_code: bool) -> Option<String> {
        let Some((setting, file)) = self.entries.get(plugin) else {
            return (!enabled_in_code).then(|| "in code".to_owned());
        };
        if !setting.enable.unwrap_or(enabled_in_code) {
            return Some(if setting.enable.is_some() {
                file.clone()
            } else {
                "in code".to_owned()
            });
        }
        match &setting.env {
            Some(envs) if !envs.iter().any(|e| e == env) => {
                Some(format!("{file}: not enabled for env `{env}`"))
            }
            _ => None,
        }
    }
}

/// A plugin as the graph sees it.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub(crate) name: &'a str,
    pub(crate) dependencies: &'a [&'static str],
    pub(crate) optional_dependencies: &'a [&'static str],
    pub(crate) enabled_in_code: bool,
}

/// The enabled plugins, by index into `nodes`, dependencies first, otherwise in registration
/// order.
pub(crate) fn resolve(
    nodes: &[Node<'_>],
    settings: &PluginSettings,
    env: &str,
) -> Result<Vec<usize>, PluginError> {
    let mut by_name = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        if by_name.insert(node.name, index).is_some() {
            return Err(PluginError::Duplicate {
                name: node.name.to_owned(),
            });
        }
    }
    if let Some((name, (_, file))) = settings
        .entries
        .iter()
        .find(|(name, _)| !by_name.contains_key(name.as_str()))
    {
        return Err(PluginError::Unknown {
            file: file.clone(),
            name: name.clone(),
            known: nodes.iter().map(|n| n.name).collect::<Vec<_>>().join(", "),
        });
    }
    let disabled: Vec<Option<String>> = nodes
        .iter()
        .map(|node| settings.disabled_in(node.name, env, node.enabled_in_code))
        .collect();

    // Every requirement of every enabled plugin must be registered and enabled.
    let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut switched_off: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (index, node) in nodes.iter().enumerate() {
        if disabled[index].is_some() {
            continue;
        }
        for &dependency in node.dependencies {
            match by_name.get(dependency) {
                None => missing
                    .entry(dependency)
                    .or_default()
                    .push(node.name.to_owned()),
                Some(&dep) if disabled[dep].is_some() => switched_off
                    .entry(dependency)
                    .or_default()
                    .push(node.name.to_owned()),
                Some(_) => {}
            }
        }
    }
    if let Some((name, required_by)) = missing.into_iter().next() {
        return Err(PluginError::Missing {
            name: name.to_owned(),
            required_by,
        });
    }
    if let Some((name, required_by)) = switched_off.into_iter().next() {
        let disabled_in = disabled[by_name[name]].clone().unwrap_or_default();
        return Err(PluginError::Disabled {
            name: name.to_owned(),
            disabled_in,
            required_by,
        });
    }

    let mut order = Vec::new();
    let mut state = vec![Visit::New; nodes.len()];
    let mut stack = Vec::new();
    for index in 0..nodes.len() {
        if disabled[index].is_none() {
            visit(
                index, nodes, &by_name, &disabled, &mut state, &mut stack, &mut order,
            )?;
        }
    }
    Ok(order)
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    New,
    InProgress,
    Done,
}

fn visit(
    index: usize,
    nodes: &[Node<'_>],
    by_name: &HashMap<&str, usize>,
    disabled: &[Option<String>],
    state: &mut [Visit],
    stack: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), PluginError> {
    match state[index] {
        Visit::Done => return Ok(()),
        Visit::InProgress => {
            let start = stack.iter().position(|&i| i == index).unwrap_or(0);
            let mut path: Vec<&str> = stack[start..].iter().map(|&i| nodes[i].name).collect();
            path.push(nodes[index].name);
            return Err(PluginError::Cycle {
                path: path.join(" -> "),
            });
        }
        Visit::New => {}
    }
    state[index] = Visit::InProgress;
    stack.push(index);
    let node = &nodes[index];
    for dependency in node.dependencies.iter().chain(node.optional_dependencies) {
        if let Some(&dep) = by_name.get(dependency)
            && disabled[dep].is_none()
        {
            visit(dep, nodes, by_name, disabled, state, stack, order)?;
        }
    }
    stack.pop();
    state[index] = Visit::Done;
    order.push(index);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(name: &'a str, deps: &'a [&'static str], optional: &'a [&'static str]) -> Node<'a> {
        Node {
            name,
            dependencies: deps,
            optional_dependencies: optional,
            enabled_in_code: true,
        }
    }

    fn names(nodes: &[Node<'_>], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| nodes[i].name.to_owned()).collect()
    }

    fn settings(toml_text: &str) -> PluginSettings {
        let parsed: BTreeMap<String, PluginSetting> = toml::from_str(toml_text).unwrap();
        PluginSettings {
            entries: parsed
                .into_iter()
                .map(|(k, v)| (k, (v, "config/plugin.toml".to_owned())))
                .collect(),
        }
    }

    #[test]
    fn dependencies_first_then_registration_order() {
        let nodes = [
            node("security", &["session"], &[]),
            node("logger", &[], &[]),
            node("session", &[], &["logger"]),
            node("onerror", &[], &[]),
        ];
        let order = resolve(&nodes, &PluginSettings::default(), "local").unwrap();
        assert_eq!(
            names(&nodes, &order),
            ["logger", "session", "security", "onerror"]
        );
    }

    #[test]
    fn optional_dependency_absent_or_disabled_is_fine() {
        let nodes = [
            node("session", &[], &["redis", "logger"]),
            node("logger", &[], &[]),
        ];
        let order = resolve(&nodes, &settings("[logger]\nenable = false\n"), "local").unwrap();
        assert_eq!(names(&nodes, &order), ["session"]);
    }

    #[test]
    fn missing_names_who_requires_it() {
        let nodes = [
            node("security", &["session"], &[]),
            node("csrf", &["session"], &[]),
        ];
        let error = resolve(&nodes, &PluginSettings::default(), "local").unwrap_err();
        assert_eq!(
            error.to_string(),
            "plugin `session` is required by `security`, `csrf` but is not registered: add it \
             with `App::builder().plugin(..)`"
        );
    }

    #[test]
    fn required_but_disabled_names_the_file() {
        let nodes = [
            node("security", &["session"], &[]),
            node("session", &[], &[]),
        ];
        let error = resolve(&nodes, &settings("[session]\nenable = false\n"), "local").unwrap_err();
        assert_eq!(
            error.to_string(),
            "plugin `session` is disabled (config/plugin.toml) but is required by `security`: \
             enable it, or disable them too"
        );
    }

    #[test]
    fn disabled_dependent_does_not_require() {
        let nodes = [
            node("security", &["session"], &[]),
            node("session", &[], &[]),
        ];
        let toml = "[session]\nenable = false\n[security]\nenable = false\n";
        assert!(
            resolve(&nodes, &settings(toml), "local")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn env_list_enables_per_environment() {
        let nodes = [node("mock", &[], &[])];
        let toml = "[mock]\nenv = [\"local\", \"unittest\"]\n";
        assert_eq!(resolve(&nodes, &settings(toml), "unittest").unwrap(), [0]);
        assert!(resolve(&nodes, &settings(toml), "prod").unwrap().is_empty());
    }

    #[test]
    fn cycle_is_printed_as_a_path() {
        let nodes = [
            node("a", &["b"], &[]),
            node("b", &["c"], &[]),
            node("c", &["a"], &[]),
        ];
        let error = resolve(&nodes, &PluginSettings::default(), "local").unwrap_err();
        assert_eq!(
            error.to_string(),
            "plugin dependency cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn duplicate_name() {
        let nodes = [node("a", &[], &[]), node("a", &[], &[])];
        let error = resolve(&nodes, &PluginSettings::default(), "local").unwrap_err();
        assert!(matches!(error, PluginError::Duplicate { ref name } if name == "a"));
    }

    #[test]
    fn unknown_plugin_in_file() {
        let nodes = [node("a", &[], &[])];
        let error = resolve(&nodes, &settings("[sesion]\nenable = true\n"), "local").unwrap_err();
        assert_eq!(
            error.to_string(),
            "config/plugin.toml: plugin `sesion` is not registered; registered plugins: a. Add it \
             with `App::builder().plugin(..)` or remove its section"
        );
    }

    #[test]
    fn env_file_overrides_default_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/plugin.toml"),
            "[a]\nenable = false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config/plugin.prod.toml"),
            "[a]\nenable = true\n",
        )
        .unwrap();
        let nodes = [node("a", &[], &[])];
        let local = PluginSettings::load(dir.path(), "local").unwrap();
        assert!(resolve(&nodes, &local, "local").unwrap().is_empty());
        let prod = PluginSettings::load(dir.path(), "prod").unwrap();
        assert_eq!(resolve(&nodes, &prod, "prod").unwrap(), [0]);
    }

    #[test]
    fn bad_plugin_file_names_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/plugin.toml"),
            "[a]\nenabel = false\n",
        )
        .unwrap();
        let error = PluginSettings::load(dir.path(), "local")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("config/plugin.toml:"), "{error}");
        assert!(error.contains("unknown field `enabel`"), "{error}");
    }
}
