//! Profiles: which plugins run, with what weights, and whether to preempt.

use crate::framework::Plugin;
use crate::plugins;
use serde::{Deserialize, Serialize};

/// A plugin in a profile specification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// The plugin's name (see [`plugins::NAMES`]).
    pub name: String,
    /// Weight of its score; 0 keeps only its filter. Default 1.
    #[serde(default = "one")]
    pub weight: f64,
    /// `interruption-aware`: the lowest Spot Advisor band (0 to 4) from which
    /// work that does not checkpoint is kept away. Default 2 (10-15% a month).
    #[serde(default)]
    pub max_band: Option<u8>,
}

fn one() -> f64 {
    1.0
}

/// A profile as scenario files write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// A name for traces. Default `"custom"`.
    #[serde(default = "custom")]
    pub name: String,
    /// The plugins, in the order their filters run.
    pub plugins: Vec<PluginSpec>,
    /// Whether an unschedulable pod may evict lower-priority pods. Default true.
    #[serde(default = "yes")]
    pub preemption: bool,
}

fn custom() -> String {
    "custom".into()
}
fn yes() -> bool {
    true
}

/// Why a profile could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// No built-in profile by that name.
    #[error("no built-in profile `{name}` (built-in: {known})")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// No plugin by that name.
    #[error("no plugin `{name}` (plugins: {known})")]
    UnknownPlugin {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// A weight that is negative or not a number.
    #[error("plugin `{name}` has weight {weight}; weights are finite and ≥ 0")]
    BadWeight {
        /// The plugin.
        name: String,
        /// Its weight.
        weight: String,
    },
    /// An option given to a plugin that does not take it.
    #[error("plugin `{name}` takes no `{option}` (only `interruption-aware` does)")]
    MisplacedOption {
        /// The plugin.
        name: String,
        /// The option.
        option: &'static str,
    },
}

/// Filters every profile runs, added with weight 0 where a profile leaves them out.
pub const MANDATORY_FILTERS: [&str; 2] = ["resource-fit", "node-affinity"];

/// A built-in profile: name, plugins with weights, and what it is for.
pub type BuiltinProfile = (&'static str, &'static [(&'static str, f64)], &'static str);

/// The built-in profiles.
pub const BUILTIN_PROFILES: &[BuiltinProfile] = &[
    (
        "default",
        &[("resource-fit", 0.0), ("node-affinity", 1.0), ("interruption-aware", 1.0), ("bin-pack", 1.0), ("cost-aware", 2.0)],
        "cheapest capacity per unit of work (sunk capacity first, then spot, then on-demand), packed, away from risky spot for fragile work",
    ),
    ("bin-pack", &[("resource-fit", 0.0), ("node-affinity", 1.0), ("bin-pack", 1.0)], "fullest node first (MostAllocated)"),
    ("spread", &[("resource-fit", 0.0), ("node-affinity", 1.0), ("spread", 1.0)], "emptiest node first (LeastAllocated)"),
    (
        "cost-aware",
        &[("resource-fit", 0.0), ("node-affinity", 1.0), ("interruption-aware", 1.0), ("cost-aware", 1.0)],
        "lowest effective price per unit of useful work",
    ),
    ("gavel", &[("resource-fit", 0.0), ("node-affinity", 1.0), ("heterogeneity-aware", 1.0)], "fastest accelerator for the work (Gavel)"),
    (
        "fgd",
        &[("resource-fit", 0.0), ("node-affinity", 1.0), ("fragmentation-aware", 1.0)],
        "least growth of GPU fragmentation (FGD, ATC '23)",
    ),
];

/// A profile ready to schedule.
pub struct Profile {
    /// Its name.
    pub name: String,
    pub(crate) plugins: Vec<(Box<dyn Plugin>, f64)>,
    /// Whether preemption runs when nothing fits.
    pub preemption: bool,
    /// Candidates kept in each trace.
    pub trace_top: usize,
    /// Reused score buffer.
    pub(crate) scratch: Vec<f64>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p: Vec<String> = self.plugins.iter().map(|(p, w)| format!("{}×{w}", p.name())).collect();
        write!(f, "Profile {} [{}] preemption {}", self.name, p.join(", "), self.preemption)
    }
}

impl Profile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let (_, plugins, _) = BUILTIN_PROFILES.iter().find(|(n, _, _)| *n == name).ok_or_else(|| ProfileError::UnknownProfile {
            name: name.to_string(),
            known: BUILTIN_PROFILES.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
        })?;
        Profile::from_spec(&ProfileSpec {
            name: name.to_string(),
            plugins: plugins.iter().map(|(n, w)| PluginSpec { name: n.to_string(), weight: *w, max_band: None }).collect(),
            preemption: true,
        })
    }

    /// A profile from its specification.
    ///
    /// `resource-fit` and `node-affinity` are the filters that make a
    /// placement legal (room, allowed accelerator models, the workload's
    /// pools, node selector and taints), so a profile that leaves them out
    /// gets them first, with weight 0: a profile chooses how to rank nodes,
    /// never whether the rules hold.
    pub fn from_spec(spec: &ProfileSpec) -> Result<Profile, ProfileError> {
        let mut specs: Vec<PluginSpec> = Vec::with_capacity(spec.plugins.len() + 2);
        for required in MANDATORY_FILTERS.iter().rev() {
            if !spec.plugins.iter().any(|p| p.name == *required) {
                specs.insert(0, PluginSpec { name: required.to_string(), weight: 0.0, max_band: None });
            }
        }
        specs.extend(spec.plugins.iter().cloned());
        let mut built = Vec::with_capacity(specs.len());
        for p in &specs {
            if p.max_band.is_some() && p.name != "interruption-aware" {
                return Err(ProfileError::MisplacedOption { name: p.name.clone(), option: "max_band" });
            }
            if !p.weight.is_finite() || p.weight < 0.0 {
                return Err(ProfileError::BadWeight { name: p.name.clone(), weight: p.weight.to_string() });
            }
            let plugin = plugins::by_name(&p.name, p)
                .ok_or_else(|| ProfileError::UnknownPlugin { name: p.name.clone(), known: plugins::NAMES.join(", ") })?;
            built.push((plugin, p.weight));
        }
        Ok(Profile { name: spec.name.clone(), plugins: built, preemption: spec.preemption, trace_top: 3, scratch: Vec::new() })
    }

    /// The plugins and their weights.
    pub fn plugins(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.plugins.iter().map(|(p, w)| (p.name(), *w))
    }
}
