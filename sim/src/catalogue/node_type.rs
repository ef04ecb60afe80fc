//! One node type: a machine shape with a number of accelerators.

use serde::{Deserialize, Serialize};

/// A machine shape that pools are made of, such as AWS `p5.48xlarge`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeType {
    /// The name scenarios refer to.
    pub name: String,
    /// The accelerator type it carries (a catalogue name or alias).
    pub accelerator: String,
    /// How many accelerators each node has.
    pub accelerators_per_node: u32,
    /// Virtual CPUs (informational).
    #[serde(default)]
    pub vcpus: u32,
    /// Host memory in GB (informational).
    #[serde(default)]
    pub memory_gb: f64,
    /// Host power beside the accelerators (CPUs, NICs, fans), in watts.
    #[serde(default)]
    pub host_watts: f64,
    /// On-demand list price per node-hour: the reference for savings.
    pub list_price_per_hour: f64,
    /// Where the figures come from.
    #[serde(default)]
    pub source: String,
}
