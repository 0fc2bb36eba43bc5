//! What to build and what to watch, from `cargo metadata`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DevError;

/// The app package, its binary, and the directories whose changes call for a rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// The app package's name.
    pub package: String,
    /// The binary to build and run.
    pub bin: String,
    /// The app package's directory (its `config/` and `run/` live there).
    pub dir: PathBuf,
    /// The directories of the app package and of every path dependency it uses.
    pub watch_dirs: Vec<PathBuf>,
}

impl Project {
    /// The app's `config/` directory: a change there only needs a reload.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
    workspace_default_members: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: PathBuf,
    source: Option<String>,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
    name: String,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    dependencies: Vec<String>,
}

/// Finds the app: `package`, else the package whose directory is `cwd`; its binary: `bin`,
/// else its only (or same-named) binary.
pub(crate) fn locate(
    cargo: &Path,
    cwd: &Path,
    package: Option<&str>,
    bin: Option<&str>,
) -> Result<Project, DevError> {
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(cwd)
        .output()
        .map_err(|source| DevError::Spawn {
            what: "cargo metadata".into(),
            source,
        })?;
    if !output.status.success() {
        return Err(DevError::Metadata(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)
        .map_err(|error| DevError::Metadata(error.to_string()))?;
    from_metadata(&metadata, cwd, package, bin)
}

fn from_metadata(
    metadata: &Metadata,
    cwd: &Path,
    package: Option<&str>,
    bin: Option<&str>,
) -> Result<Project, DevError> {
    let dir_of = |p: &Package| {
        p.manifest_path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_owned()
    };
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_owned());
    let app = match package {
        Some(name) => metadata.packages.iter().find(|p| p.name == name),
        None => metadata
            .packages
            .iter()
            .find(|p| p.source.is_none() && dir_of(p) == cwd)
            .or_else(|| {
                let defaults = metadata.workspace_default_members.as_ref()?;
                let mut with_bin = metadata.packages.iter().filter(|p| {
                    defaults.contains(&p.id)
                        && p.targets.iter().any(|t| t.kind.iter().any(|k| k == "bin"))
                });
                let only = with_bin.next()?;
                with_bin.next().is_none().then_some(only)
            }),
    }
    .ok_or_else(|| DevError::NoPackage {
        asked: package.map(str::to_owned),
        dir: cwd.clone(),
    })?;
    let bins: Vec<&str> = app
        .targets
        .iter()
        .filter(|t| t.kind.iter().any(|k| k == "bin"))
        .map(|t| t.name.as_str())
        .collect();
    let bin = match bin {
        Some(bin) if bins.contains(&bin) => bin.to_owned(),
        None if bins.len() == 1 => bins[0].to_owned(),
        None if bins.contains(&app.name.as_str()) => app.name.clone(),
        _ => {
            return Err(DevError::NoBinary {
                package: app.name.clone(),
                asked: bin.map(str::to_owned),
                found: bins.iter().map(|b| (*b).to_owned()).collect(),
            });
        }
    };

    // The app and every path dependency it reaches.
    let by_id: HashMap<&str, &Package> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let edges: HashMap<&str, &Vec<String>> = metadata
        .resolve
        .iter()
        .flat_map(|r| r.nodes.iter())
        .map(|n| (n.id.as_str(), &n.dependencies))
        .collect();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([app.id.as_str()]);
    let mut watch_dirs = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        let Some(package) = by_id.get(id) else {
            continue;
        };
        if package.source.is_some() {
            continue;
        }
        watch_dirs.push(dir_of(package));
        for dep in edges.get(id).into_iter().flat_map(|deps| deps.iter()) {
            queue.push_back(dep);
        }
    }
    Ok(Project {
        package: app.name.clone(),
        bin,
        dir: dir_of(app),
        watch_dirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        serde_json::from_value(serde_json::json!({
            "packages": [
                {"id": "app", "name": "app", "manifest_path": "/w/app/Cargo.toml", "source": null,
                 "targets": [{"kind": ["lib"], "name": "app"}, {"kind": ["bin"], "name": "app"}]},
                {"id": "core", "name": "core", "manifest_path": "/w/core/Cargo.toml", "source": null,
                 "targets": [{"kind": ["lib"], "name": "core"}]},
                {"id": "other", "name": "other", "manifest_path": "/w/other/Cargo.toml", "source": null,
                 "targets": [{"kind": ["lib"], "name": "other"}]},
                {"id": "serde", "name": "serde", "manifest_path": "/reg/serde/Cargo.toml",
                 "source": "registry+https://example", "targets": [{"kind": ["lib"], "name": "serde"}]}
            ],
            "resolve": {"nodes": [
                {"id": "app", "dependencies": ["core", "serde"]},
                {"id": "core", "dependencies": ["serde"]},
                {"id": "other", "dependencies": []},
                {"id": "serde", "dependencies": []}
            ]},
            "workspace_default_members": ["app", "core", "other"]
        }))
        .unwrap()
    }

    #[test]
    fn the_app_and_its_path_dependencies_are_watched() {
        let project = from_metadata(&metadata(), Path::new("/w/app"), None, None).unwrap();
        assert_eq!(project.package, "app");
        assert_eq!(project.bin, "app");
        assert_eq!(
            project.watch_dirs,
            vec![PathBuf::from("/w/app"), PathBuf::from("/w/core")]
        );
        assert_eq!(project.config_dir(), PathBuf::from("/w/app/config"));
    }

    #[test]
    fn an_unknown_binary_is_named_with_the_choices() {
        let error = from_metadata(&metadata(), Path::new("/w"), Some("app"), Some("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`nope`") && error.contains("`app`"),
            "{error}"
        );
    }

    #[test]
    fn a_package_without_a_binary_is_refused() {
        let error = from_metadata(&metadata(), Path::new("/w"), Some("core"), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`core`"), "{error}");
    }
}
