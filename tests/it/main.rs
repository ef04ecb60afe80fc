//! Twin's integration tests: one binary, one module per concern.
//!
//! `cli` drives the `twin` binary as a user would; the others use the
//! library crates directly.

mod calibration;
mod cli;
mod determinism;
mod extender;
mod histories;
mod invariants;
mod library;
mod manifests;
mod own_recording;
mod promote;
mod recorded;
mod regress;
mod replay;
mod scheduling;
mod shadow;
mod shadow_folder;
mod shadow_kube;
mod stream;
mod sweep;
mod theory;
mod tui;

use std::path::PathBuf;
use twin_sim::scenario::Scenario;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `git ARGS` in `dir` with a throwaway identity; its stdout, or a panic with its stderr.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's stdout then stderr, as text, for assertions and their messages.
pub fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A scenario from text, or a panic that shows every error.
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("scenario does not check:\n{e}"))
}

/// The environment variable that lets tests which read `../shared/data`
/// skip (saying so) where it is missing; without it they fail.
pub const SKIP_DATA: &str = "TWIN_SKIP_DATA_TESTS";

/// Whether tests that need `../shared/data` may skip.
fn may_skip_data() -> bool {
    std::env::var(SKIP_DATA).is_ok_and(|v| v == "1")
}

/// `../shared/data/<rel>` beside this checkout, or `None` (the test then
/// skips) when it is missing and `TWIN_SKIP_DATA_TESTS=1`; a missing file
/// otherwise fails the test, saying how to supply it.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = root().join("../shared/data").join(rel);
    if path.exists() {
        return Some(path);
    }
    if may_skip_data() {
        eprintln!("skipped ({SKIP_DATA}=1): {} is not here", path.display());
        return None;
    }
    panic!(
        "{} is not here: these tests read real traces from ../shared/data beside the checkout; put it there, or set {SKIP_DATA}=1 to skip them",
        path.display()
    );
}

/// A scenario file loaded with everything it names, through the loader
/// every front end uses; `None` (skip) only when a file it names under
/// `../shared/data` is missing and `TWIN_SKIP_DATA_TESTS=1`.
pub fn load_or_skip(path: &std::path::Path) -> Option<twin_inputs::Loaded> {
    match twin_inputs::load(path.to_str().expect("a UTF-8 path")) {
        Ok(loaded) => Some(loaded),
        Err(twin_inputs::InputError::Missing { named, .. }) if named.path.to_string_lossy().contains("shared/data") && may_skip_data() => {
            eprintln!("skipped ({SKIP_DATA}=1): {} is not here", named.path.display());
            None
        }
        Err(e) => panic!("{}: {e}", path.display()),
    }
}
