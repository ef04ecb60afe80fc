//! Scenarios: the files users write, read into a checked [`Scenario`].
//!
//! A scenario is TOML in format version 1 ([`spec`] has every field and its
//! default). [`Scenario::from_toml`] parses it, merges its catalogue entries
//! with the built-in catalogue and checks it, reporting every problem with the
//! file, line, column and field, and a hint.
//!
//! ```
//! use twin_sim::scenario::Scenario;
//! let text = r#"
//! format_version = 1
//! name = "tiny"
//! horizon = "1h"
//! [[pools]]
//! name = "od"
//! node_type = "g6.xlarge"
//! capacity = "on-demand"
//! max_nodes = 4
//! "#;
//! let scenario = Scenario::from_toml(text, "tiny.toml").unwrap();
//! assert_eq!(scenario.spec.pools[0].max_node_count(), 4);
//! ```

pub mod duration;
mod error;
mod locate;
mod parse;
pub mod spec;
mod validate;

pub use duration::Dur;
pub use error::{ErrorKind, ScenarioError, ScenarioErrors};
pub use locate::{FieldPath, Segment, line_col};
pub use spec::ScenarioSpec;
pub use validate::{gang_fits, usable_gb};

use crate::catalogue::Catalogue;
use sha2::{Digest, Sha256};

/// A parsed, checked scenario with the catalogue it runs against.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario as written, defaults filled in.
    pub spec: ScenarioSpec,
    /// The built-in catalogue merged with the scenario's own entries.
    pub catalogue: Catalogue,
    /// Where the text came from (a path, or `<embedded>/name`).
    pub origin: String,
    /// SHA-256 of the scenario text, hex: identifies exactly what ran. With
    /// [`Scenario::extend`], of the text and of what was added.
    pub sha256: String,
    /// Request traces the scenario's `arrivals = { trace = ... }` name, by
    /// file as written: read at the edge (the model does no I/O) and
    /// attached with [`Scenario::attach_trace`] before the run.
    pub traces: std::collections::BTreeMap<String, std::sync::Arc<crate::workload::RequestTrace>>,
    /// Telemetry recordings the pools' `telemetry = { file = ... }` name, by
    /// file as written, attached with [`Scenario::attach_recording`].
    pub recordings: std::collections::BTreeMap<String, std::sync::Arc<crate::fleet::RecordedUsage>>,
    /// Price histories the pools' `price = { history = ... }` name, by pool,
    /// as the tables they replay as, attached with [`Scenario::attach_price_history`].
    pub price_histories: std::collections::BTreeMap<String, spec::PriceTableSpec>,
    /// Spot Advisor bands (such as `"10-15%"`) of pools whose `interruption.advisor` names a file, by pool.
    pub advisor_bands: std::collections::BTreeMap<String, String>,
    /// Job traces the `[[job_traces]]` name, by trace name, attached with [`Scenario::attach_job_trace`].
    pub job_traces: std::collections::BTreeMap<String, std::sync::Arc<Vec<crate::workload::TraceJob>>>,
}

impl Scenario {
    /// The trace files the services replay, as written in the scenario
    /// (file, format), each once, in order of file and format name.
    pub fn trace_files(&self) -> Vec<(String, spec::RequestTraceFormat)> {
        files_once(self.spec.services.iter().filter_map(|s| match &s.arrivals {
            spec::ArrivalSpec::Trace(t) => Some((t.file.clone(), t.format)),
            _ => None,
        }))
    }

    /// The telemetry recordings the pools replay, as written (file, format),
    /// each once, in order of file and format name.
    pub fn telemetry_files(&self) -> Vec<(String, spec::TelemetryFormat)> {
        files_once(self.spec.pools.iter().filter_map(|p| p.telemetry.as_ref().map(|t| (t.file.clone(), t.format))))
    }

    /// The pools whose price is a history, with it.
    pub fn price_history_files(&self) -> Vec<(String, spec::PriceHistorySpec)> {
        self.spec
            .pools
            .iter()
            .filter_map(|p| match &p.price {
                Some(spec::PriceSpec::History(h)) => Some((p.name.clone(), h.clone())),
                _ => None,
            })
            .collect()
    }

    /// Attaches the table `pool`'s price history replays as.
    pub fn attach_price_history(&mut self, pool: &str, table: spec::PriceTableSpec) {
        self.price_histories.insert(pool.to_string(), table);
    }

    /// The job traces the scenario replays: (name, file, format).
    pub fn job_trace_files(&self) -> Vec<(String, String, spec::JobTraceFormat)> {
        self.spec.job_traces.iter().map(|t| (t.name.clone(), t.file.clone(), t.format)).collect()
    }

    /// The pools whose interruption band comes from Spot Advisor data: (pool, reference).
    pub fn advisor_files(&self) -> Vec<(String, spec::AdvisorRefSpec)> {
        self.spec
            .pools
            .iter()
            .filter_map(|p| p.interruption.as_ref().and_then(|i| i.advisor.clone()).map(|a| (p.name.clone(), a)))
            .collect()
    }

    /// Attaches the Spot Advisor band (`"<5%"` ... `">20%"`) of `pool`.
    pub fn attach_advisor_band(&mut self, pool: &str, band: &str) {
        self.advisor_bands.insert(pool.to_string(), band.to_string());
    }

    /// Attaches the jobs of the job trace called `name`.
    pub fn attach_job_trace(&mut self, name: &str, jobs: Vec<crate::workload::TraceJob>) {
        self.job_traces.insert(name.to_string(), std::sync::Arc::new(jobs));
    }

    /// Attaches a telemetry recording read from `file` (as the scenario names it).
    pub fn attach_recording(&mut self, file: &str, usage: crate::fleet::RecordedUsage) {
        self.recordings.insert(file.to_string(), std::sync::Arc::new(usage));
    }

    /// Attaches a request trace read from `file` (as the scenario names it).
    pub fn attach_trace(&mut self, file: &str, trace: crate::workload::RequestTrace) {
        self.traces.insert(file.to_string(), std::sync::Arc::new(trace));
    }

    /// Parses and checks scenario text. `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, ScenarioErrors> {
        let spec = parse::parse_spec(text, origin)?;
        let catalogue = catalogue_of(&spec);
        let problems = validate::check(&spec, &catalogue);
        if !problems.is_empty() {
            let errors = problems
                .into_iter()
                .map(|p| {
                    let (line, column) = locate::span_of(text, &p.path).map_or((1, 1), |s| locate::line_col(text, s.start));
                    ScenarioError {
                        kind: p.kind,
                        origin: origin.to_string(),
                        line,
                        column,
                        field: p.path.to_string(),
                        message: p.message,
                        hint: p.hint,
                    }
                })
                .collect();
            return Err(ScenarioErrors(errors));
        }
        Ok(Scenario::checked(spec, catalogue, origin, text))
    }

    /// Checks a scenario built in code. Errors carry field paths; their line
    /// and column are 0 since there is no text.
    pub fn from_spec(spec: ScenarioSpec, origin: &str) -> Result<Scenario, ScenarioErrors> {
        let catalogue = catalogue_of(&spec);
        let problems = validate::check(&spec, &catalogue);
        if !problems.is_empty() {
            return Err(ScenarioErrors(
                problems
                    .into_iter()
                    .map(|p| ScenarioError {
                        kind: p.kind,
                        origin: origin.to_string(),
                        line: 0,
                        column: 0,
                        field: p.path.to_string(),
                        message: p.message,
                        hint: p.hint,
                    })
                    .collect(),
            ));
        }
        let text = toml::to_string(&spec).unwrap_or_default();
        Ok(Scenario::checked(spec, catalogue, origin, &text))
    }
}

/// Workloads and pools that join a checked scenario from outside its text
/// (Kubernetes manifests), with a name for where each came from.
#[derive(Clone, Debug, Default)]
pub struct Additions {
    /// Pools (Karpenter NodePools).
    pub pools: Vec<spec::PoolSpec>,
    /// Served or capacity-holding workloads (Deployments, StatefulSets).
    pub services: Vec<spec::ServiceSpec>,
    /// Training jobs (Jobs).
    pub training: Vec<spec::TrainingSpec>,
    /// The exact bytes they came from, in order: they join the scenario's SHA-256.
    pub sources: Vec<Vec<u8>>,
}

impl Scenario {
    /// Adds workloads and pools from outside the scenario text and checks
    /// the whole again. An error's field is the path of the added entry
    /// (`services[3].pools`), with line and column 0; `origin_of` names
    /// where that entry came from (a manifest file, document and line) and
    /// becomes the error's origin.
    pub fn extend(&mut self, add: Additions, origin_of: impl Fn(&str) -> Option<(String, usize, usize)>) -> Result<(), ScenarioErrors> {
        let (pools0, services0, training0) = (self.spec.pools.len(), self.spec.services.len(), self.spec.training.len());
        let mut spec = self.spec.clone();
        spec.pools.extend(add.pools);
        spec.services.extend(add.services);
        spec.training.extend(add.training);
        let problems = validate::check(&spec, &self.catalogue);
        if !problems.is_empty() {
            let errors = problems
                .into_iter()
                .map(|p| {
                    // The added entry the problem is in, by name.
                    let added = match p.path.0.first().zip(p.path.0.get(1)) {
                        Some((Segment::Key(list), Segment::Index(i))) => match list.as_str() {
                            "pools" if *i >= pools0 => spec.pools.get(*i).map(|x| x.name.clone()),
                            "services" if *i >= services0 => spec.services.get(*i).map(|x| x.name.clone()),
                            "training" if *i >= training0 => spec.training.get(*i).map(|x| x.name.clone()),
                            _ => None,
                        },
                        _ => None,
                    };
                    let (origin, line, column) = added.and_then(|n| origin_of(&n)).unwrap_or_else(|| (self.origin.clone(), 0, 0));
                    ScenarioError { kind: p.kind, origin, line, column, field: p.path.to_string(), message: p.message, hint: p.hint }
                })
                .collect();
            return Err(ScenarioErrors(errors));
        }
        let mut digest = Sha256::new();
        digest.update(self.sha256.as_bytes());
        for s in &add.sources {
            digest.update(Sha256::digest(s));
        }
        self.sha256 = hex(&digest.finalize());
        self.spec = spec;
        Ok(())
    }
}

impl Scenario {
    /// A checked scenario with nothing attached yet.
    fn checked(spec: ScenarioSpec, catalogue: Catalogue, origin: &str, text: &str) -> Scenario {
        Scenario {
            spec,
            catalogue,
            origin: origin.to_string(),
            sha256: hex_sha256(text.as_bytes()),
            traces: Default::default(),
            recordings: Default::default(),
            price_histories: Default::default(),
            advisor_bands: Default::default(),
            job_traces: Default::default(),
        }
    }
}

/// Each (file, format) once, sorted by file and then by the format's name.
fn files_once<F: Copy + PartialEq + std::fmt::Display>(files: impl Iterator<Item = (String, F)>) -> Vec<(String, F)> {
    let mut files: Vec<(String, F)> = files.collect();
    files.sort_by_cached_key(|(file, format)| (file.clone(), format.to_string()));
    files.dedup();
    files
}

fn catalogue_of(spec: &ScenarioSpec) -> Catalogue {
    Catalogue::builtin().merged(&Catalogue {
        accelerators: spec.accelerators.clone(),
        node_types: spec.node_types.clone(),
        models: spec.models.clone(),
    })
}

/// Lowercase hex SHA-256 of some bytes: how Twin names what exactly ran.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
