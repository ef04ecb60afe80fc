//! Twin's loader: one way from a scenario file, or a built-in scenario's
//! name, to a scenario that runs.
//!
//! The simulator (`twin-sim`) does no I/O: a scenario that replays request
//! traces, telemetry recordings, price histories, Spot Advisor data or job
//! traces names those files, and somebody must read them and attach what
//! they hold before the run. This crate is that somebody, for every front
//! end: the `twin` binary, the tests, and whatever comes next (a terminal
//! UI, a regression gate, shadow mode).
//!
//! ```text
//! "spot-inference" or path/to/s.toml
//!        │ ScenarioText::find        (file, else the embedded library)
//!        ▼
//!  origin, text, Source              Scenario::from_toml (parse, check, locate errors)
//!        │
//!        ▼
//!  Scenario ── requests::attach ── telemetry::attach ── prices::attach_* ── jobs::attach
//!        │       every file resolved relative to the scenario (Source), read once,
//!        │       errors naming the file, the field that names it and the line
//!        ▼
//!  Loaded { scenario, text, source, policies, pod_trace, notes }
//! ```
//!
//! ```
//! let loaded = twin_inputs::load("spot-inference").unwrap();
//! assert_eq!(loaded.scenario.spec.name, "spot-inference");
//! let out = twin_sim::run(&loaded.scenario, loaded.scenario.spec.seed, twin_sim::RunOptions::summary_only());
//! # let _ = out;
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod formats;
pub mod jobs;
pub mod library;
pub mod manifests;
pub mod pod_trace;
pub mod policies;
pub mod prices;
pub mod requests;
mod source;
pub mod telemetry;
pub mod trace_file;

pub use error::{InputError, NamedFile};
pub use policies::PolicySources;
pub use source::{ScenarioText, Source};

use std::path::PathBuf;
use twin_scheduler::openb::PodTrace;
use twin_sim::scenario::Scenario;

/// What reading an input noticed without failing (rows skipped, samples out
/// of order), one line each, naming the file: a front end shows them.
pub type Notes = Vec<String>;

/// A scenario ready to run, with everything it names read.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The checked scenario, its request traces, recordings, price
    /// histories, advisor bands and job traces attached.
    pub scenario: Scenario,
    /// The exact text that was parsed (what `--out` keeps as `scenario.toml`).
    pub text: String,
    /// Where its relative paths start.
    pub source: Source,
    /// Its Rego policies, read (compile them with [`PolicySources::compile`]).
    pub policies: Option<PolicySources>,
    /// For a pod-trace scenario (the scheduler's fill experiment), its nodes
    /// and pods; such a scenario is not a timed run and has nothing attached.
    pub pod_trace: Option<PodTrace>,
    /// What the readers noticed, for the user.
    pub notes: Notes,
}

/// Loads a scenario file, or else the built-in scenario of that name, with
/// everything it names.
pub fn load(name: &str) -> Result<Loaded, InputError> {
    load_text(ScenarioText::find(name)?)
}

/// Loads scenario text whose files lie where `text.source` says.
pub fn load_text(text: ScenarioText) -> Result<Loaded, InputError> {
    load_text_with(text, &[])
}

/// Loads a scenario file, or else the built-in scenario of that name, with
/// everything it names and the Kubernetes manifests `manifests` (files,
/// folders, or `-` for standard input) joining its own.
pub fn load_with(name: &str, manifests: &[PathBuf]) -> Result<Loaded, InputError> {
    load_text_with(ScenarioText::find(name)?, manifests)
}

/// [`load_text`], with Kubernetes manifests joining the scenario's own.
pub fn load_text_with(text: ScenarioText, manifests: &[PathBuf]) -> Result<Loaded, InputError> {
    let ScenarioText { origin, text, source } = text;
    let mut scenario = Scenario::from_toml(&text, &origin)?;
    let mut notes = Notes::new();
    if scenario.spec.pod_trace.is_none() {
        manifests::attach(&mut scenario, &source, manifests, &mut notes)?;
    } else if !manifests.is_empty() || !scenario.spec.manifests.is_empty() {
        return Err(InputError::PodTraceManifests { origin: origin.clone() });
    }
    let pod_trace = match &scenario.spec.pod_trace {
        Some(spec) => Some(pod_trace::load(&source, spec, &scenario)?),
        None => {
            attach_all(&mut scenario, &source, &mut notes)?;
            None
        }
    };
    let policies = match &scenario.spec.policies {
        Some(p) => Some(PolicySources::read(&source, p)?),
        None => None,
    };
    Ok(Loaded { scenario, text, source, policies, pod_trace, notes })
}

/// Reads and attaches everything a scenario names beyond itself: request
/// traces, telemetry recordings, price histories, Spot Advisor bands and
/// job traces, from paths relative to `source`.
pub fn attach_all(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    requests::attach(scenario, source, notes)?;
    telemetry::attach(scenario, source, notes)?;
    prices::attach_histories(scenario, source, notes)?;
    prices::attach_advisor_bands(scenario, source)?;
    jobs::attach(scenario, source, notes)
}

/// The file the scenario's `field` names, resolved; an error naming the
/// field and saying how paths are taken when it is not there.
pub(crate) fn named_file(
    scenario: &Scenario,
    source: &Source,
    what: &'static str,
    file: &str,
    field: &str,
) -> Result<NamedFile, InputError> {
    let named =
        NamedFile { what, path: source.resolve(file), field: field.to_string(), file: file.to_string(), origin: scenario.origin.clone() };
    if named.path.is_file() { Ok(named) } else { Err(named.missing("no such file", source.relative_to())) }
}
