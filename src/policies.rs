//! Loading a scenario's Rego policies, and `twin policy test`.

use crate::args::PolicyTestArgs;
use crate::library;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use twin_policy::RegoPolicies;
use twin_sim::scenario::spec::PoliciesSpec;

/// Where a scenario's relative paths start.
#[derive(Clone, Debug)]
pub enum Base {
    /// The folder of the scenario file.
    Dir(PathBuf),
    /// A built-in scenario: paths resolve in the embedded library.
    BuiltIn,
}

/// Reads the files (or folders of `.rego` files, tests excluded) named relative to `base`.
fn read_sources(base: &Base, names: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in names {
        match base {
            Base::Dir(dir) => {
                let path = dir.join(name);
                if path.is_dir() {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                        .with_context(|| format!("cannot list {}", path.display()))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "rego") && !is_test(p))
                        .collect();
                    files.sort();
                    for f in files {
                        out.push((
                            f.display().to_string(),
                            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?,
                        ));
                    }
                } else {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read policy file {} (named in the scenario's [policies])", path.display()))?;
                    out.push((path.display().to_string(), text));
                }
            }
            Base::BuiltIn => {
                let key = name.trim_start_matches("../").trim_start_matches("./").trim_end_matches('/');
                let found: Vec<(String, String)> = library::POLICIES
                    .iter()
                    .filter(|(p, _)| *p == key || (p.starts_with(&format!("{key}/")) && p.ends_with(".rego") && !p.ends_with("_test.rego")))
                    .map(|(p, t)| (format!("<built-in>/{p}"), t.to_string()))
                    .collect();
                if found.is_empty() {
                    bail!("no built-in policy file `{name}`");
                }
                out.extend(found);
            }
        }
    }
    Ok(out)
}

fn is_test(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_test.rego"))
}

/// Compiles the policies a scenario names.
pub fn load(base: &Base, spec: &PoliciesSpec) -> anyhow::Result<RegoPolicies> {
    let sources = read_sources(base, &spec.files)?;
    let data = match &spec.data {
        Some(d) => Some(read_sources(base, std::slice::from_ref(d))?.remove(0).1),
        None => None,
    };
    Ok(RegoPolicies::new(&sources, data.as_deref())?)
}

/// `twin policy test [DIR...]`: runs the Rego unit tests beside the policies.
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
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    for o in &outcomes {
        if o.passed {
            outln!("PASS  {}: data.{}.{}", o.file, o.package, o.name);
        } else {
            outln!("FAIL  {}: data.{}.{} ({})", o.file, o.package, o.name, o.detail);
        }
    }
    outln!("{} passed, {failed} failed", outcomes.len() - failed);
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
