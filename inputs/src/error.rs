//! What can go wrong turning a scenario and its files into a runnable scenario.

use std::path::PathBuf;
use twin_replay::ReplayError;
use twin_sim::scenario::ScenarioErrors;

/// An input that cannot be loaded. Each names the file, the scenario field
/// that named it and, where the reader knows them, the line and column;
/// most also say how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Neither a file nor a built-in scenario goes by this name.
    #[error("no scenario file or built-in scenario called `{name}` (built-in: {builtin})")]
    NoScenario {
        /// The name asked for.
        name: String,
        /// The built-in scenarios, comma-separated.
        builtin: String,
    },
    /// A file given directly (a scenario, a table) cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scenario does not parse or check: every problem, located.
    #[error("{0}")]
    Scenario(#[from] ScenarioErrors),
    /// A file the scenario names is not there or cannot be opened.
    #[error("cannot read the {} {} ({} = \"{}\" in {}): {reason}; {relative}", named.what, named.path.display(), named.field, named.file, named.origin)]
    Missing {
        /// The file and the field that names it.
        named: Box<NamedFile>,
        /// Why it cannot be read (`no such file`, the system's message).
        reason: String,
        /// How relative paths are taken.
        relative: &'static str,
    },
    /// A file the scenario names was read but is not what the field expects.
    #[error("{} = \"{}\" in {}", named.field, named.file, named.origin)]
    Read {
        /// The file and the field that names it.
        named: Box<NamedFile>,
        /// What the reader said: path, line, field and hint.
        source: ReplayError,
    },
    /// A file read well that still cannot serve: empty, the wrong kind of
    /// table, no data for the pool that names it.
    #[error("{} ({} = \"{}\" in {}): {message}", named.path.display(), named.field, named.file, named.origin)]
    Unusable {
        /// The file and the field that names it.
        named: Box<NamedFile>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A telemetry or table file given directly does not read.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Manifests given to a pod-trace experiment, whose pods come from its trace.
    #[error(
        "{origin} is a pod-trace experiment: its pods come from the trace, so Kubernetes manifests have no place in it; drop `manifests` (or --manifests), or give them to a timed scenario"
    )]
    PodTraceManifests {
        /// The scenario.
        origin: String,
    },
    /// A Kubernetes manifest does not read, or asks for what no pool has:
    /// file, document, line, column and field.
    #[error(transparent)]
    Manifest(#[from] twin_manifests::ManifestError),
    /// A Rego policy does not compile.
    #[error(transparent)]
    Policy(#[from] twin_policy::PolicyError),
    /// A pod trace's node or pod file does not read.
    #[error(transparent)]
    PodTrace(#[from] twin_scheduler::openb::TraceError),
    /// A name given where one of a closed list is expected (a format).
    #[error("unknown {what} `{name}` (known: {known})")]
    UnknownName {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names known, comma-separated.
        known: String,
    },
}

/// A file a scenario names, and where it names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedFile {
    /// What the file is for (`request trace`, `telemetry recording`, ...).
    pub what: &'static str,
    /// Where it was looked for.
    pub path: PathBuf,
    /// The scenario field that names it (`pools[0].telemetry.file`).
    pub field: String,
    /// The file as the scenario writes it.
    pub file: String,
    /// The scenario.
    pub origin: String,
}

impl NamedFile {
    /// The error of this file not being there or not opening.
    pub(crate) fn missing(self, reason: impl ToString, relative: &'static str) -> InputError {
        InputError::Missing { named: Box::new(self), reason: reason.to_string(), relative }
    }

    /// The error of this file, read well, not serving: `message` says why and how to fix it.
    pub(crate) fn unusable(&self, message: impl Into<String>) -> InputError {
        InputError::Unusable { named: Box::new(self.clone()), message: message.into() }
    }

    /// The error of this file not reading as the field expects.
    pub(crate) fn unreadable(&self, source: ReplayError) -> InputError {
        InputError::Read { named: Box::new(self.clone()), source }
    }
}

impl InputError {
    /// Whether the scenario itself is at fault (exit code 2 in the `twin` binary).
    pub fn is_bad_scenario(&self) -> bool {
        matches!(self, InputError::Scenario(_))
    }
}
