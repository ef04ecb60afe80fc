//! `twin policy test`: the Rego unit tests beside the policies.

use crate::args::PolicyTestArgs;
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// `twin policy test [DIR...]`: runs the Rego unit tests beside the policies,
/// then the admission policies' tests again as Gatekeeper runs them.
pub fn test(a: PolicyTestArgs) -> anyhow::Result<ExitCode> {
    let dirs = if a.dirs.is_empty() { vec![PathBuf::from("policies")] } else { a.dirs };
    let mut sources = Vec::new();
    let mut data = None;
    for dir in &dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "rego") {
                sources.push((f.display().to_string(), std::fs::read_to_string(&f)?));
            } else if f.file_name().is_some_and(|n| n == "data.json") {
                data = Some(std::fs::read_to_string(&f)?);
            }
        }
    }
    if !sources.iter().any(|(f, _)| f.ends_with("_test.rego")) {
        bail!("no *_test.rego files in {}", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    let outcomes = twin_policy::run_tests(&sources, data.as_deref())?;
    let mut failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut passed = outcomes.len() - failed;
    for o in &outcomes {
        if o.passed {
            outln!("PASS  {}: data.{}.{}", o.file, o.package, o.name);
        } else {
            outln!("FAIL  {}: data.{}.{} ({})", o.file, o.package, o.name, o.detail);
        }
    }

    // The admission policies again, as Gatekeeper runs them in the cluster:
    // no data file, only input and data.inventory.
    let admission: Vec<(String, String)> = sources
        .iter()
        .filter(|(f, text)| !f.ends_with("_test.rego") && twin_policy::package_of(text) == Some("twin.admission"))
        .cloned()
        .collect();
    for (file, text) in &admission {
        for r in twin_policy::gatekeeper::foreign_data_refs(text) {
            outln!("FAIL  [gatekeeper] {file}: {r}");
            failed += 1;
        }
    }
    let admission_tests: Vec<(String, String)> =
        sources.iter().filter(|(f, text)| f.ends_with("_test.rego") && text.contains("data.twin.admission")).cloned().collect();
    if !admission.is_empty() && !admission_tests.is_empty() {
        let both: Vec<(String, String)> = admission.iter().chain(&admission_tests).cloned().collect();
        for o in twin_policy::run_tests(&both, None)? {
            if o.passed {
                outln!("PASS  [gatekeeper] {}: data.{}.{}", o.file, o.package, o.name);
                passed += 1;
            } else {
                outln!("FAIL  [gatekeeper] {}: data.{}.{} ({}; Gatekeeper has no data file)", o.file, o.package, o.name, o.detail);
                failed += 1;
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
