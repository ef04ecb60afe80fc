//! Committing a promotion to a branch of a real git repository, and
//! reverting the last one, through `git2`. Pushing is the user's CI's.
//!
//! A promotion commit carries the trailer `Twin-Promotion: <env>`; a
//! rollback carries `Twin-Reverts: <commit>`. The repository must be on the
//! branch, with a clean working tree; a promotion that changes nothing
//! commits nothing.

use crate::{Env, GitOpsError};
use git2::{Commit, Oid, Repository, Signature, StatusOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The trailer marking a promotion.
pub const PROMOTION_TRAILER: &str = "Twin-Promotion";
/// The trailer marking a rollback, naming the promotion it reverts.
pub const REVERTS_TRAILER: &str = "Twin-Reverts";
/// The trailer naming the folder a promotion wrote under (`.` for the root),
/// so that two clusters promoted into one repository keep their own history.
pub const PATH_TRAILER: &str = "Twin-Path";

/// What a promotion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new commit on the branch.
    Committed {
        /// The commit, full hex.
        commit: String,
        /// Files added, changed or removed.
        changed: usize,
    },
    /// The rendered files are what the branch holds: nothing was committed.
    NothingToPromote,
}

/// A repository checked out on the branch to commit to, and clean.
pub struct Checkout {
    repo: Repository,
    /// The branch.
    pub branch: String,
    /// The working tree.
    pub workdir: PathBuf,
}

impl Checkout {
    /// Opens `path`, on `branch` when given (else the branch checked out),
    /// refusing a bare repository, a detached HEAD, a missing branch, another
    /// branch checked out and a dirty working tree.
    pub fn open(path: &Path, branch: Option<&str>) -> Result<Checkout, GitOpsError> {
        let repo = Repository::open(path).map_err(|e| {
            GitOpsError::Refused(format!("{} is not a git repository ({}): clone the GitOps repository first", path.display(), e.message()))
        })?;
        let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
            return Err(GitOpsError::Refused(format!("{} is a bare repository: promote into a clone with a working tree", path.display())));
        };
        if repo.head_detached().unwrap_or(false) {
            return Err(GitOpsError::Refused(format!(
                "{}: HEAD is detached; check out the branch to promote to (git switch main)",
                workdir.display()
            )));
        }
        let head = match repo.head() {
            Ok(h) => h.shorthand().ok().map(str::to_string),
            // An unborn branch: a new repository without commits.
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
                let head = repo.find_reference("HEAD")?;
                head.symbolic_target().ok().flatten().map(|t| t.trim_start_matches("refs/heads/").to_string())
            }
            Err(e) => return Err(e.into()),
        };
        let head = head.ok_or_else(|| GitOpsError::Refused(format!("{}: HEAD names no branch", workdir.display())))?;
        if let Some(b) = branch {
            if repo.find_branch(b, git2::BranchType::Local).is_err() && b != head {
                return Err(GitOpsError::Refused(format!(
                    "{}: no branch {b}; create it (git switch -c {b}) or name another with --branch",
                    workdir.display()
                )));
            }
            if b != head {
                return Err(GitOpsError::Refused(format!(
                    "{}: {head} is checked out, not {b}; run git switch {b} first",
                    workdir.display()
                )));
            }
        }
        let checkout = Checkout { repo, branch: head, workdir };
        checkout.refuse_changes()?;
        Ok(checkout)
    }

    /// Refuses a working tree with changes (untracked files count).
    fn refuse_changes(&self) -> Result<(), GitOpsError> {
        let (repo, workdir) = (&self.repo, &self.workdir);
        let mut opts = StatusOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
        let dirty: Vec<String> = repo
            .statuses(Some(&mut opts))?
            .iter()
            .filter(|s| s.status() != git2::Status::CURRENT)
            .filter_map(|s| s.path().ok().map(|p| p.to_string()))
            .collect();
        if !dirty.is_empty() {
            let shown: Vec<&str> = dirty.iter().take(5).map(String::as_str).collect();
            return Err(GitOpsError::Refused(format!(
                "{}: the working tree has changes ({}{}); commit or stash them, so that the promotion commits only itself",
                workdir.display(),
                shown.join(", "),
                if dirty.len() > 5 { format!(" and {} more", dirty.len() - 5) } else { String::new() }
            )));
        }
        Ok(())
    }

    /// A file's text at the branch's tip, if it holds one.
    pub fn read_at_head(&self, rel: &str) -> Result<Option<String>, GitOpsError> {
        let Ok(head) = self.repo.head().and_then(|h| h.peel_to_commit()) else { return Ok(None) };
        let tree = head.tree()?;
        let Ok(entry) = tree.get_path(Path::new(rel)) else { return Ok(None) };
        let blob = self.repo.find_blob(entry.id())?;
        Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
    }

    /// Writes `files` under `prefix`, replacing whatever the `owned` folders
    /// held, and commits them with `message` unless nothing changed.
    pub fn commit_files(
        &self,
        prefix: &str,
        owned: &[String],
        files: &BTreeMap<String, String>,
        message: &str,
    ) -> Result<Outcome, GitOpsError> {
        let join = |rel: &str| {
            if prefix.is_empty() || prefix == "." { rel.to_string() } else { format!("{}/{rel}", prefix.trim_end_matches('/')) }
        };
        let io = |path: &Path, source: std::io::Error| GitOpsError::Io { path: path.display().to_string(), source };
        for dir in owned {
            let abs = self.workdir.join(join(dir));
            if abs.exists() {
                std::fs::remove_dir_all(&abs).map_err(|e| io(&abs, e))?;
            }
        }
        for (rel, text) in files {
            let abs = self.workdir.join(join(rel));
            if let Some(parent) = abs.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(&abs, text).map_err(|e| io(&abs, e))?;
        }
        let mut index = self.repo.index()?;
        let specs: Vec<String> = owned.iter().map(|d| join(d)).collect();
        // Forced: a .gitignore must not drop the stored results or a manifest.
        index.add_all(specs.iter(), git2::IndexAddOption::FORCE, None)?;
        index.update_all(specs.iter(), None)?;
        index.write()?;
        let tree_id = index.write_tree()?;
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        if let Some(p) = &parent
            && p.tree_id() == tree_id
        {
            return Ok(Outcome::NothingToPromote);
        }
        let changed = match &parent {
            Some(p) => self.repo.diff_tree_to_tree(Some(&p.tree()?), Some(&self.repo.find_tree(tree_id)?), None)?.deltas().len(),
            None => files.len(),
        };
        let tree = self.repo.find_tree(tree_id)?;
        let sig = self.signature()?;
        let parents: Vec<&Commit> = parent.iter().collect();
        let id = self.repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
        Ok(Outcome::Committed { commit: id.to_string(), changed })
    }

    /// The newest promotion to `env` under `prefix` on the branch not yet
    /// reverted, walking first parents from the tip (Twin commits on the
    /// branch itself).
    pub fn last_promotion(&self, env: Env, prefix: &str) -> Result<Option<(Oid, String)>, GitOpsError> {
        let path = if prefix.is_empty() { "." } else { prefix };
        let Ok(head) = self.repo.head().and_then(|h| h.peel_to_commit()) else { return Ok(None) };
        // Commits some later, standing commit undid: by Twin's rollback
        // (`Twin-Reverts`) or by `git revert` ("This reverts commit X."). A
        // reverted rollback undoes nothing, so a promotion re-applied with
        // `git revert <rollback>` counts again.
        let mut undone = std::collections::HashSet::new();
        let mut commit = Some(head);
        while let Some(c) = commit {
            let id = c.id().to_string();
            let message = c.message().unwrap_or("").to_string();
            let trailers = trailers(&message);
            if !undone.contains(&id) {
                for (k, v) in &trailers {
                    if k == REVERTS_TRAILER {
                        undone.insert(v.clone());
                    }
                }
                for line in message.lines() {
                    if let Some(rest) = line.trim().strip_prefix("This reverts commit ") {
                        let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
                        if sha.len() == 40 {
                            undone.insert(sha);
                        }
                    }
                }
                let is_promotion = trailers.iter().any(|(k, v)| k == PROMOTION_TRAILER && v == env.as_str())
                    && trailers.iter().find(|(k, _)| k == PATH_TRAILER).is_none_or(|(_, v)| v == path);
                if is_promotion {
                    return Ok(Some((c.id(), c.summary().ok().flatten().unwrap_or("").to_string())));
                }
            }
            commit = c.parents().next();
        }
        Ok(None)
    }

    /// Reverts the last promotion to `env` not yet reverted, as a new commit
    /// (history kept); the reverted commit and its summary, or `None`.
    pub fn rollback(&self, env: Env, prefix: &str) -> Result<Option<(String, String, String)>, GitOpsError> {
        let Some((id, summary)) = self.last_promotion(env, prefix)? else { return Ok(None) };
        let target = self.repo.find_commit(id)?;
        let head = self.repo.head()?.peel_to_commit()?;
        let mut index = self.repo.revert_commit(&target, &head, 0, None)?;
        if index.has_conflicts() {
            return Err(GitOpsError::Refused(format!(
                "reverting {} conflicts with later commits: revert it by hand (git revert {id})",
                &id.to_string()[..12]
            )));
        }
        let tree_id = index.write_tree_to(&self.repo)?;
        let tree = self.repo.find_tree(tree_id)?;
        let sig = self.signature()?;
        let message = format!(
            "Revert \"{summary}\"\n\nThis reverts commit {id}: the promotion is rolled back, and the\nprevious promotion's files and results are the branch's again.\n\n{REVERTS_TRAILER}: {id}\n"
        );
        let new = self.repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &[&head])?;
        // The working tree follows the branch.
        self.repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))?;
        Ok(Some((id.to_string(), summary, new.to_string())))
    }

    fn signature(&self) -> Result<Signature<'static>, GitOpsError> {
        Ok(match self.repo.signature() {
            Ok(s) => s.to_owned(),
            Err(_) => Signature::now("Twin", "twin@localhost")?,
        })
    }
}

/// The trailers of a commit message: `Key: value` lines of its last paragraph.
pub fn trailers(message: &str) -> Vec<(String, String)> {
    let last = message.trim_end().rsplit("\n\n").next().unwrap_or("");
    last.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}
