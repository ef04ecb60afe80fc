//! The scheduler that places work, and how it treats each workload.

use super::defaults::secs;
use crate::scenario::duration::Dur;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which scheduler places replicas and gangs on nodes.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSpec {
    /// A built-in profile of Twin's scheduler (`default`, `bin-pack`,
    /// `spread`, `cost-aware`, `gavel`, `fgd`), `spot-first-bin-pack` (the
    /// fixed rule, not the framework), or a table
    /// `{ name, plugins = [{ name, weight }], preemption }`. Default `default`.
    pub profile: Option<ProfileChoice>,
    /// A scheduler in another language, spoken to over stdin/stdout
    /// (docs/external-scheduler.md). Run by the `twin` binary.
    pub external: Option<ExternalSchedulerSpec>,
}

/// A scheduler profile: a built-in name or a specification.
#[derive(Clone, Debug, Serialize)]
pub enum ProfileChoice {
    /// A built-in profile by name.
    Builtin(String),
    /// A profile spelled out.
    Custom(twin_scheduler::ProfileSpec),
}

impl<'de> Deserialize<'de> for ProfileChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProfileChoice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a built-in profile name, or a table with `plugins`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProfileChoice, E> {
                Ok(ProfileChoice::Builtin(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ProfileChoice, A::Error> {
                twin_scheduler::ProfileSpec::deserialize(de::value::MapAccessDeserializer::new(map)).map(ProfileChoice::Custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An external scheduler process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSchedulerSpec {
    /// The program and its arguments, such as `["python3", "examples/external_scheduler.py"]`.
    pub command: Vec<String>,
    /// Longest wait for an answer before the run ends with an error. Default `"10s"`.
    #[serde(default = "secs::<10>")]
    pub timeout: Dur,
}

/// How the scheduler treats a workload.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulingSpec {
    /// Priority: higher is placed first and may preempt lower. Default 0.
    pub priority: i32,
    /// Node labels required, such as `{ "gpu.type" = "H100" }`.
    pub node_selector: BTreeMap<String, String>,
    /// Taints tolerated, as in Kubernetes: `[{ key = "dedicated", value = "training" }]`.
    pub tolerations: Vec<twin_scheduler::Toleration>,
    /// CPU each pod asks for per accelerator it requests, in millicores
    /// (Kubernetes' `requests.cpu` over its `nvidia.com/gpu`). Twin's
    /// scheduler fits it against node types' vCPUs; 0: not considered. Default 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_milli_per_gpu: u32,
    /// Memory each pod asks for per accelerator it requests, in MiB. Default 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub memory_mib_per_gpu: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
