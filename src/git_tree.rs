//! A revision's files, read from a git repository's object database through
//! `git2` without a checkout: the working tree, the index and HEAD are left
//! as they are.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// A copy of the files of one revision, in a temporary folder removed on drop.
pub struct TreeCopy {
    /// Where the files are.
    pub dir: tempfile::TempDir,
    /// The working tree of the repository they came from.
    pub workdir: PathBuf,
    /// The commit, full hex.
    pub commit: String,
}

/// Copies the files of `reference` (a branch, tag, `HEAD~1`, a commit) of the
/// repository that holds `inside` into a temporary folder.
pub fn copy(inside: &Path, reference: &str) -> anyhow::Result<TreeCopy> {
    let repo = git2::Repository::discover(inside)
        .with_context(|| format!("--baseline-ref needs a git repository, and {} is in none", inside.display()))?;
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        bail!("the repository at {} is bare: run the gate in a clone with a working tree", repo.path().display());
    };
    let commit = repo
        .revparse_single(reference)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("`{reference}` names no commit in {}; try a branch (main), a tag or HEAD~1", workdir.display()))?;
    let tree = commit.tree()?;
    let dir = tempfile::Builder::new().prefix("twin-baseline-").tempdir()?;
    let mut failure: Option<anyhow::Error> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else { return git2::TreeWalkResult::Skip };
        let path = dir.path().join(parent).join(name);
        let written = match entry.kind() {
            Some(git2::ObjectType::Tree) => std::fs::create_dir_all(&path).map_err(anyhow::Error::from),
            Some(git2::ObjectType::Blob) => repo.find_blob(entry.id()).map_err(anyhow::Error::from).and_then(|blob| {
                if entry.filemode() == 0o120_000 {
                    // A symbolic link: its target, as git stores it.
                    let target = String::from_utf8_lossy(blob.content()).into_owned();
                    link(&target, &path)
                } else {
                    std::fs::write(&path, blob.content())
                        .and_then(|()| executable(&path, entry.filemode() == 0o100_755))
                        .map_err(anyhow::Error::from)
                }
            }),
            // Submodules are other repositories: not part of this revision's files.
            _ => Ok(()),
        };
        match written {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e.context(format!("copying {}{name} of {reference}", parent)));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .ok();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(TreeCopy { dir, workdir, commit: commit.id().to_string() })
}

/// Keeps git's executable bit (a scheduler or script the suite runs).
#[cfg(unix)]
fn executable(path: &Path, yes: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if yes { std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)) } else { Ok(()) }
}

#[cfg(not(unix))]
fn executable(_: &Path, _: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn link(target: &str, path: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(target, path).map_err(Into::into)
}

#[cfg(not(unix))]
fn link(target: &str, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, target).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_copied_without_touching_the_working_tree() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/a.toml"), "one").unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("s/a.toml")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "one", &tree, &[]).unwrap();
        std::fs::write(dir.path().join("s/a.toml"), "two (not committed)").unwrap();
        let copied = copy(&dir.path().join("s"), "HEAD").unwrap();
        assert_eq!(std::fs::read_to_string(copied.dir.path().join("s/a.toml")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(dir.path().join("s/a.toml")).unwrap(), "two (not committed)");
        assert!(copy(dir.path(), "no-such-branch").err().unwrap().to_string().contains("names no commit"));
    }
}
