//! Kubernetes manifests joining a scenario: those its `manifests = [...]`
//! names (relative to it) and those given on the command line, read,
//! turned into workloads and pools by `twin-manifests`, and checked with
//! the rest of the scenario.

use crate::{InputError, Notes, Source};
use std::path::PathBuf;
use twin_sim::scenario::{Additions, Scenario};

/// Reads the manifests the scenario names and `extra` (paths as given, or
/// `-` for standard input) and adds their workloads and pools to it.
pub fn attach(scenario: &mut Scenario, source: &Source, extra: &[PathBuf], notes: &mut Notes) -> Result<(), InputError> {
    let mut paths: Vec<PathBuf> = scenario.spec.manifests.iter().map(|m| source.resolve(m)).collect();
    for (i, p) in paths.iter().enumerate() {
        if !p.exists() {
            let named = crate::NamedFile {
                what: "manifest",
                path: p.clone(),
                field: format!("manifests[{i}]"),
                file: scenario.spec.manifests[i].clone(),
                origin: scenario.origin.clone(),
            };
            return Err(named.missing("no such file or folder", source.relative_to()));
        }
    }
    paths.extend(extra.iter().cloned());
    if paths.is_empty() {
        return Ok(());
    }
    let files = twin_manifests::read_paths(&paths)?;
    let manifests = twin_manifests::parse(&files)?;
    let applied = twin_manifests::apply(&manifests, &scenario.spec, &scenario.catalogue)?;
    notes.extend(applied.notes.iter().cloned());
    let origins = applied.origins.clone();
    let add = Additions {
        pools: applied.pools,
        services: applied.services,
        training: applied.training,
        sources: files.iter().map(|f| f.text.clone().into_bytes()).collect(),
    };
    scenario
        .extend(add, |name| origins.get(name).map(|at| (format!("{} (document {}, {name})", at.file, at.document), at.line, at.column)))?;
    Ok(())
}
