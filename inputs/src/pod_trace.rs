//! A pod-trace scenario's node and pod files (`[pod_trace]`, the Alibaba
//! openb 2023 format), for the scheduler's fill experiment.

use crate::{InputError, NamedFile, Source};
use twin_scheduler::openb::{self, PodTrace};
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::PodTraceSpec;

/// Reads one of the trace's files: the file as the scenario names it, and its text.
fn read(source: &Source, scenario: &Scenario, name: &str, what: &'static str, field: &str) -> Result<(NamedFile, String), InputError> {
    let named =
        NamedFile { what, path: source.resolve(name), field: field.to_string(), file: name.to_string(), origin: scenario.origin.clone() };
    match std::fs::read_to_string(&named.path) {
        Ok(text) => Ok((named, text)),
        Err(e) => Err(named.missing(e, source.relative_to())),
    }
}

/// Reads the nodes and pods a pod-trace spec names: GPU nodes, and pods
/// that ask for GPUs, or an error saying what is missing.
pub fn load(source: &Source, spec: &PodTraceSpec, scenario: &Scenario) -> Result<PodTrace, InputError> {
    let (nodes_file, nodes_text) = read(source, scenario, &spec.nodes, "pod trace's node file", "pod_trace.nodes")?;
    let (pods_file, pods_text) = read(source, scenario, &spec.pods, "pod trace's pod file", "pod_trace.pods")?;
    let nodes = openb::parse_nodes(&nodes_file.path.display().to_string(), &nodes_text)?;
    let pods = openb::parse_pods(&pods_file.path.display().to_string(), &pods_text)?;
    if nodes.is_empty() || nodes.iter().all(|n| n.shape.gpus == 0) {
        return Err(nodes_file.unusable("has no GPU nodes"));
    }
    if !pods.iter().any(|p| p.gpu_milli() > 0) {
        return Err(pods_file.unusable("has no pods that ask for GPUs: nothing would fill the cluster"));
    }
    Ok(PodTrace { nodes, pods })
}
