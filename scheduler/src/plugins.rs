//! The built-in plugins.
//!
//! | name | filters | scores |
//! | --- | --- | --- |
//! | `resource-fit` | CPU, memory, whole accelerators or a fractional share, allowed accelerator models | — |
//! | `node-affinity` | node selector and affinity on labels (`gpu.type`, pool, zone...), `NoSchedule` taints | fewer untolerated `PreferNoSchedule` taints |
//! | `bin-pack` | — | fuller node after placement (MostAllocated) |
//! | `spread` | — | emptier node after placement (LeastAllocated) |
//! | `cost-aware` | — | lower marginal price per unit of useful work; sunk capacity costs nothing |
//! | `interruption-aware` | work that does not checkpoint, from high Spot Advisor bands | lower expected loss to interruptions |
//! | `heterogeneity-aware` | — | higher throughput of the work on the node's accelerator (Gavel) |
//! | `fragmentation-aware` | — | least growth in GPU fragmentation for the observed workload (FGD) |

mod affinity;
mod allocation;
mod cost;
mod fragmentation;
mod heterogeneity;
mod interruption;
mod resource_fit;

pub use affinity::NodeAffinity;
pub use allocation::{BinPack, Spread};
pub use cost::CostAware;
pub use fragmentation::{FragmentationAware, node_fragmentation};
pub use heterogeneity::HeterogeneityAware;
pub use interruption::InterruptionAware;
pub use resource_fit::ResourceFit;

use crate::framework::Plugin;
use crate::profile::PluginSpec;

/// Every plugin name a profile may use.
pub const NAMES: &[&str] = &[
    "resource-fit",
    "node-affinity",
    "bin-pack",
    "spread",
    "cost-aware",
    "interruption-aware",
    "heterogeneity-aware",
    "fragmentation-aware",
];

/// A plugin by name, configured from its spec.
pub fn by_name(name: &str, spec: &PluginSpec) -> Option<Box<dyn Plugin>> {
    Some(match name {
        "resource-fit" => Box::new(ResourceFit),
        "node-affinity" => Box::new(NodeAffinity),
        "bin-pack" => Box::new(BinPack),
        "spread" => Box::new(Spread),
        "cost-aware" => Box::new(CostAware),
        "interruption-aware" => Box::new(InterruptionAware { max_band: spec.max_band.unwrap_or(2) }),
        "heterogeneity-aware" => Box::new(HeterogeneityAware),
        "fragmentation-aware" => Box::new(FragmentationAware::default()),
        _ => return None,
    })
}
