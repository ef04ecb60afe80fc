//! Manifest files read from paths: the crate's only I/O.

use crate::error::ManifestError;
use crate::parse::ManifestFile;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads manifests from `paths`, in the order given: a file as it is, a
/// folder's `*.yaml` and `*.yml` files at any depth in sorted path order
/// (so the result is the same on every machine), `-` from standard input
/// (named `<stdin>`).
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<ManifestFile>, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| read_error(path, &e))?;
            files.push(ManifestFile { origin: "<stdin>".into(), text });
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            for f in found {
                files.push(read_file(&f)?);
            }
        } else {
            files.push(read_file(path)?);
        }
    }
    Ok(files)
}

fn read_error(path: &Path, e: &std::io::Error) -> ManifestError {
    ManifestError::Read { path: path.display().to_string(), message: e.to_string() }
}

fn read_file(path: &Path) -> Result<ManifestFile, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| read_error(path, &e))?;
    Ok(ManifestFile { origin: path.display().to_string(), text })
}

/// The YAML files under `dir`, at any depth.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let mut seen = std::collections::BTreeSet::new();
    walk_once(dir, found, &mut seen)
}

/// [`walk`], entering each real folder once: a symbolic link back up the
/// tree is not followed round and round.
fn walk_once(dir: &Path, found: &mut Vec<PathBuf>, seen: &mut std::collections::BTreeSet<PathBuf>) -> Result<(), ManifestError> {
    if !seen.insert(dir.canonicalize().map_err(|e| read_error(dir, &e))?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, &e))? {
        let path = entry.map_err(|e| read_error(dir, &e))?.path();
        if path.is_dir() {
            walk_once(&path, found, seen)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_read_recursively_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/z.yml"), "z").unwrap();
        std::fs::write(dir.path().join("b/a.yaml"), "a").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "top").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "no").unwrap();
        let files = read_paths(&[dir.path().to_path_buf()]).unwrap();
        let texts: Vec<&str> = files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["top", "a", "z"]);
        #[cfg(unix)]
        {
            // A link back up the tree is entered once, not forever.
            std::os::unix::fs::symlink(dir.path(), dir.path().join("b/up")).unwrap();
            let again = read_paths(&[dir.path().to_path_buf()]).unwrap();
            assert_eq!(again.len(), 3);
        }
        let e = read_paths(&[dir.path().join("missing.yaml")]).unwrap_err();
        assert!(e.to_string().contains("missing.yaml"), "{e}");
    }
}
