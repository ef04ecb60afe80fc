//! Where a scenario came from, and where the files it names are.

use crate::InputError;
use crate::library;
use std::path::{Path, PathBuf};

/// Where a scenario's relative paths start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The folder of the scenario file.
    Dir(PathBuf),
    /// A built-in scenario: its policies come from the embedded library, and
    /// the data files it names are looked for as if it sat in `scenarios/`
    /// of the current folder (a checkout of Twin).
    BuiltIn,
    /// A scenario in a copy of a repository's tree at some revision (the
    /// regression gate's baseline): paths are taken from `dir` inside
    /// `root`, and a path that leads out of `root` (a shared data folder
    /// beside the checkout, which git does not hold) is taken from
    /// `outside`, the working tree the copy was made from.
    Tree {
        /// The scenario's folder, inside `root`.
        dir: PathBuf,
        /// Where the copy of the tree is.
        root: PathBuf,
        /// The repository's working tree.
        outside: PathBuf,
    },
}

impl Source {
    /// The source of a scenario read from `path`: its folder (the current
    /// one for a bare file name).
    pub fn of_file(path: &Path) -> Source {
        Source::Dir(path.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf))
    }

    /// Where a path written in the scenario is.
    pub fn resolve(&self, name: &str) -> PathBuf {
        match self {
            Source::Dir(dir) => dir.join(name),
            Source::BuiltIn => Path::new("scenarios").join(name),
            Source::Tree { dir, root, outside } => match dir.strip_prefix(root) {
                Ok(rel) => {
                    let within = normalize(&rel.join(name));
                    if within.starts_with("..") { normalize(&outside.join(within)) } else { root.join(within) }
                }
                // A scenario outside the copy (outside the repository): its own folder.
                Err(_) => dir.join(name),
            },
        }
    }

    /// The folder a process the scenario starts runs in (`None`: the current one).
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Source::Dir(dir) | Source::Tree { dir, .. } => Some(dir),
            Source::BuiltIn => None,
        }
    }

    /// How relative paths are taken, for error messages.
    pub(crate) fn relative_to(&self) -> &'static str {
        match self {
            Source::Dir(_) | Source::Tree { .. } => "paths are relative to the scenario file",
            Source::BuiltIn => "paths are relative to the scenario file (for a built-in scenario, to scenarios/ of the current folder)",
        }
    }
}

/// `path` with `.` and `a/..` taken out, without asking the file system;
/// leading `..` stay.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            Component::ParentDir if matches!(out.last(), Some(Component::RootDir | Component::Prefix(_))) => {}
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// A scenario's text with where it came from, before it is parsed.
#[derive(Clone, Debug)]
pub struct ScenarioText {
    /// What errors call it: the path as given, or `<built-in>/NAME.toml`.
    pub origin: String,
    /// The exact text.
    pub text: String,
    /// Where the files it names are.
    pub source: Source,
}

impl ScenarioText {
    /// A scenario file, or else the built-in scenario of that name.
    pub fn find(name: &str) -> Result<ScenarioText, InputError> {
        let path = Path::new(name);
        if path.is_file() {
            return ScenarioText::read(path);
        }
        if let Some(text) = library::get(name) {
            return Ok(ScenarioText { origin: format!("<built-in>/{name}.toml"), text: text.to_string(), source: Source::BuiltIn });
        }
        Err(InputError::NoScenario { name: name.to_string(), builtin: library::names() })
    }

    /// A scenario file.
    pub fn read(path: &Path) -> Result<ScenarioText, InputError> {
        let text = std::fs::read_to_string(path).map_err(|source| InputError::Io { path: path.to_path_buf(), source })?;
        Ok(ScenarioText { origin: path.display().to_string(), text, source: Source::of_file(path) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_beside_the_file_or_in_scenarios_for_built_ins() {
        let s = Source::of_file(Path::new("a/b/x.toml"));
        assert_eq!(s.resolve("t.csv"), Path::new("a/b/t.csv"));
        assert_eq!(Source::of_file(Path::new("x.toml")).resolve("t.csv"), Path::new("./t.csv"));
        assert_eq!(Source::BuiltIn.resolve("../d/t.csv"), Path::new("scenarios/../d/t.csv"));
        assert_eq!(Source::BuiltIn.dir(), None);
        let t = Source::Tree { dir: "/tmp/x/scenarios".into(), root: "/tmp/x".into(), outside: "/work/main".into() };
        assert_eq!(t.resolve("t.csv"), Path::new("/tmp/x/scenarios/t.csv"));
        assert_eq!(t.resolve("../policies/a.rego"), Path::new("/tmp/x/policies/a.rego"));
        assert_eq!(t.resolve("../../shared/data/f.csv"), Path::new("/work/shared/data/f.csv"));
        assert_eq!(t.resolve("./../../../d"), Path::new("/d"));
        let outside = Source::Tree { dir: "/work/shared/s".into(), root: "/tmp/x".into(), outside: "/work/main".into() };
        assert_eq!(outside.resolve("t.csv"), Path::new("/work/shared/s/t.csv"));
    }

    #[test]
    fn a_name_is_a_file_or_a_built_in_or_an_error_listing_them() {
        let t = ScenarioText::find(library::DEFAULT).unwrap();
        assert_eq!((t.origin.as_str(), &t.source), ("<built-in>/spot-inference.toml", &Source::BuiltIn));
        let e = ScenarioText::find("no-such-scenario").unwrap_err().to_string();
        assert!(e.contains("no-such-scenario") && e.contains("spot-inference"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, "x = 1").unwrap();
        let t = ScenarioText::find(path.to_str().unwrap()).unwrap();
        assert_eq!((t.text.as_str(), t.source), ("x = 1", Source::Dir(dir.path().to_path_buf())));
    }
}
