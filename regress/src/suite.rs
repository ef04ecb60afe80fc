//! A regression suite as its file states it (`regress.toml`, format version 1).
//!
//! ```toml
//! format_version = 1
//! name = "library"
//! alpha = 0.05                 # the family's error rate
//! seeds = { set = 1, count = 20 }
//!
//! [[kpis]]
//! name = "cost_per_month"
//! threshold = 0.01             # changes under 1% of the baseline do not matter
//!
//! [[kpis]]
//! name = "slo_attainment"
//! threshold = 0.002
//! limit = 0.95                 # a floor: the candidate's median must stay above
//!
//! [[scenarios]]
//! file = "scenarios/spot-inference.toml"
//! horizon = "1d"               # shorter than the scenario's own, to keep CI fast
//! manifests = ["deploy/"]      # joined to the scenario's own
//! profile = "fgd"              # the scheduler profile to run it with
//! policies = ["policies/"]     # Rego policies instead of the scenario's
//! ```

use crate::verdict::{Direction, Kpi};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The suite format this build reads.
pub const SUITE_FORMAT: u32 = 1;

/// Most seeds a suite may ask for.
pub const MAX_SEEDS: u32 = 10_000;

/// Seeds in a set when the suite does not say.
pub const DEFAULT_SEEDS: u32 = 20;

/// A whole suite file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    /// Must be 1.
    pub format_version: u32,
    /// A short name, shown in reports.
    pub name: String,
    /// The family-wise error rate: the chance that an unchanged candidate
    /// fails anywhere in the suite. Default 0.05.
    #[serde(default = "alpha")]
    pub alpha: f64,
    /// The seeds every scenario runs with, on both sides.
    #[serde(default)]
    pub seeds: SeedSpec,
    /// The KPIs judged, in report order. Default: every KPI of
    /// [`KPI_CATALOGUE`] at its default threshold.
    #[serde(default)]
    pub kpis: Vec<KpiSpec>,
    /// The scenarios run.
    pub scenarios: Vec<ScenarioEntry>,
    /// What `twin promote` puts in the cluster when the suite passes.
    #[serde(default)]
    pub promote: Option<PromoteSpec>,
}

/// `[promote]`: what a passing suite promotes (docs/promote.md). Paths are
/// relative to the suite file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteSpec {
    /// The scheduler profile `twin extender` runs: a built-in name or a profile file.
    pub profile: String,
    /// Rego files or folders: `twin.admission` goes to Gatekeeper,
    /// `twin.placement` into the extender; other packages stay in the twin.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The policies' JSON data document; its `config` becomes the
    /// Constraints' parameters.
    #[serde(default)]
    pub policy_data: Option<String>,
    /// The scenario whose cloud pools become NodePools and whose workloads
    /// (with `manifests`) the admission policies must all allow.
    pub fleet: String,
    /// Manifests added to the fleet scenario's own.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// The image with the `twin` binary. Default `ghcr.io/twin-sim/twin:<version>`.
    #[serde(default)]
    pub image: Option<String>,
    /// The extender's namespace. Default `twin-system`.
    #[serde(default = "twin_system")]
    pub namespace: String,
    /// The Karpenter `EC2NodeClass` the NodePools use. Default `default`.
    #[serde(default = "default_class")]
    pub node_class: String,
    /// The weight of the extender's scores in kube-scheduler. Default 5.
    #[serde(default = "five")]
    pub weight: i64,
    /// Run a node-feed sidecar beside the extender so that kube-scheduler
    /// sends node names only (`nodeCacheCapable: true`): some 50 times
    /// cheaper a request, nodes up to 30 s stale. Default false.
    #[serde(default)]
    pub node_feed: bool,
    /// The node feed's image: any image with a shell and `kubectl` (pin one
    /// you control, by digest). Default `bitnami/kubectl:latest`.
    #[serde(default = "kubectl_image")]
    pub feed_image: String,
    /// The kubeconfig kube-scheduler reads, written into its configuration's
    /// `clientConnection`. Default `/etc/kubernetes/scheduler.conf` (kubeadm).
    #[serde(default = "scheduler_kubeconfig")]
    pub scheduler_kubeconfig: String,
    /// Workloads of the fleet whose replica settings the twin searches: the
    /// cheapest setting that meets the workload's SLO on every seed becomes
    /// a Kustomize patch of its manifests.
    #[serde(default)]
    pub tune: Vec<TuneSpec>,
}

/// `[[promote.tune]]`: a grid of replica settings for one served workload of
/// the fleet: `replicas` for a Deployment without an HPA, or
/// `min_replicas` and `max_replicas` for its HPA.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TuneSpec {
    /// The Deployment's name (the fleet's service of that name).
    pub workload: String,
    /// Fixed replica counts to try.
    #[serde(default)]
    pub replicas: Vec<u32>,
    /// HPA `minReplicas` values to try.
    #[serde(default)]
    pub min_replicas: Vec<u32>,
    /// HPA `maxReplicas` values to try.
    #[serde(default)]
    pub max_replicas: Vec<u32>,
}

fn twin_system() -> String {
    "twin-system".into()
}

fn default_class() -> String {
    "default".into()
}

fn five() -> i64 {
    5
}

fn kubectl_image() -> String {
    "bitnami/kubectl:latest".into()
}

fn scheduler_kubeconfig() -> String {
    "/etc/kubernetes/scheduler.conf".into()
}

fn alpha() -> f64 {
    0.05
}

/// A fixed, versioned set of seeds: set `set` always means the same seeds,
/// so results stored today pair with runs made next year.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSpec {
    /// Which set (only set 1 exists). Default 1.
    #[serde(default = "one")]
    pub set: u32,
    /// How many seeds. Default 20 (benchstat asks for 10, ideally 20; the
    /// signed-rank test needs 6 pairs to find anything at 0.05).
    #[serde(default = "count")]
    pub count: u32,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec { set: 1, count: DEFAULT_SEEDS }
    }
}

fn one() -> u32 {
    1
}

fn count() -> u32 {
    DEFAULT_SEEDS
}

/// The seeds of set `set`: set 1 is SplitMix64 of 1, 2, 3, ... (so seed
/// *i* never depends on how many are taken).
pub fn seeds(set: u32, count: u32) -> Vec<u64> {
    (1..=u64::from(count)).map(|i| splitmix64((u64::from(set) << 32) ^ i)).collect()
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A KPI as the suite states it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// A name from [`KPI_CATALOGUE`].
    pub name: String,
    /// The practical threshold relative to the baseline's median. Default: the catalogue's.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// An absolute limit on the candidate's median: a ceiling for a KPI
    /// where lower is better, a floor where higher is better.
    #[serde(default)]
    pub limit: Option<f64>,
    /// The smallest change that matters, in the KPI's own unit (such as 10
    /// drops): the band is the larger of this and `threshold` × the
    /// baseline's median, so a KPI whose baseline is 0 still has one. Default 0.
    #[serde(default)]
    pub min_change: Option<f64>,
}

/// A scenario of the suite.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEntry {
    /// The scenario file, relative to the suite file.
    pub file: String,
    /// The name reports use. Default: the file's stem, plus `@profile` when a profile is set.
    #[serde(default)]
    pub name: Option<String>,
    /// Manifests (files or folders, relative to the suite file) added to the scenario's own.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// A scheduler profile to run with instead of the scenario's: a
    /// built-in name, or a profile file (TOML, relative to the suite file).
    #[serde(default)]
    pub profile: Option<String>,
    /// A horizon instead of the scenario's, such as `"1d"`.
    #[serde(default)]
    pub horizon: Option<String>,
    /// Rego policy files or folders (relative to the suite file) to run
    /// with instead of the scenario's `[policies]`.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// A JSON data document for those policies (relative to the suite file).
    #[serde(default)]
    pub policy_data: Option<String>,
}

impl ScenarioEntry {
    /// The name reports use.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let stem = std::path::Path::new(&self.file).file_stem().map_or_else(|| self.file.clone(), |s| s.to_string_lossy().into_owned());
        match &self.profile {
            Some(p) => format!("{stem}@{}", std::path::Path::new(p).file_stem().map_or(p.as_str(), |s| s.to_str().unwrap_or(p))),
            None => stem,
        }
    }
}

/// What a KPI measures and which way is better.
#[derive(Clone, Copy, Debug)]
pub struct KpiInfo {
    /// Its name.
    pub name: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// The default practical threshold, relative to the baseline's median.
    pub threshold: f64,
    /// What it measures, for `twin regress --help` and the docs.
    pub meaning: &'static str,
}

/// Every KPI the gate knows.
pub const KPI_CATALOGUE: &[KpiInfo] = &[
    KpiInfo {
        name: "cost_per_month",
        direction: Direction::LowerIsBetter,
        threshold: 0.01,
        meaning: "the run's total cost scaled to 30 days",
    },
    KpiInfo {
        name: "slo_attainment",
        direction: Direction::HigherIsBetter,
        threshold: 0.002,
        meaning: "share of requests of served workloads meeting their TTFT and end-to-end SLOs",
    },
    KpiInfo {
        name: "ttft_p99_ms",
        direction: Direction::LowerIsBetter,
        threshold: 0.05,
        meaning: "worst served workload's P99 time to first token",
    },
    KpiInfo {
        name: "e2e_p99_ms",
        direction: Direction::LowerIsBetter,
        threshold: 0.05,
        meaning: "worst served workload's P99 end-to-end latency",
    },
    KpiInfo { name: "drops", direction: Direction::LowerIsBetter, threshold: 0.05, meaning: "requests dropped (queue full or timed out)" },
    KpiInfo {
        name: "preemptions",
        direction: Direction::LowerIsBetter,
        threshold: 0.05,
        meaning: "training jobs preempted plus inference replicas lost",
    },
    KpiInfo {
        name: "gpu_allocation",
        direction: Direction::HigherIsBetter,
        threshold: 0.005,
        meaning: "allocated share of GPU-hours (a pod-trace experiment: of GPUs at the end of the fill)",
    },
    KpiInfo {
        name: "fragmentation",
        direction: Direction::LowerIsBetter,
        threshold: 0.02,
        meaning: "pod-trace experiments: expected fragmented GPU capacity as a share of all of it, when arrived demand reached capacity",
    },
    KpiInfo { name: "idle_share", direction: Direction::LowerIsBetter, threshold: 0.01, meaning: "idle cost as a share of total cost" },
];

/// A problem with a suite file.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// Not TOML, or not a suite.
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Parsed, but does not make sense.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// The field, such as `kpis[2].name`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl SuiteSpec {
    /// Parses and checks suite text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<SuiteSpec, SuiteError> {
        let spec: SuiteSpec = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| twin_sim::scenario::line_col(text, s.start));
            SuiteError::Parse { origin: origin.to_string(), line, column, message: e.message().to_string() }
        })?;
        spec.check(origin)?;
        Ok(spec)
    }

    fn check(&self, origin: &str) -> Result<(), SuiteError> {
        let bad = |field: String, message: String| Err(SuiteError::Invalid { origin: origin.to_string(), field, message });
        if self.format_version != SUITE_FORMAT {
            return bad(
                "format_version".into(),
                format!("{} is not a suite format this Twin reads; write `format_version = {SUITE_FORMAT}`", self.format_version),
            );
        }
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return bad("alpha".into(), format!("{} is not an error rate; use a value such as 0.05", self.alpha));
        }
        if self.seeds.set != 1 {
            return bad("seeds.set".into(), format!("seed set {} does not exist; only set 1 does", self.seeds.set));
        }
        if self.seeds.count > MAX_SEEDS {
            return bad(
                "seeds.count".into(),
                format!("{} seeds is more than the gate runs ({MAX_SEEDS}); 20 is enough to see a 1% change", self.seeds.count),
            );
        }
        if self.seeds.count < 6 {
            return bad(
                "seeds.count".into(),
                format!("{} seeds cannot show anything: the signed-rank test needs at least 6 pairs at 0.05; use 20", self.seeds.count),
            );
        }
        if self.scenarios.is_empty() {
            return bad("scenarios".into(), "the suite runs nothing; add `[[scenarios]]` with a `file`".into());
        }
        let mut names = BTreeSet::new();
        for (i, s) in self.scenarios.iter().enumerate() {
            if !names.insert(s.display_name()) {
                return bad(format!("scenarios[{i}]"), format!("a second scenario named `{}`; give one a `name`", s.display_name()));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, k) in self.kpis.iter().enumerate() {
            if kpi_info(&k.name).is_none() {
                let known: Vec<&str> = KPI_CATALOGUE.iter().map(|k| k.name).collect();
                return bad(format!("kpis[{i}].name"), format!("no KPI `{}`; the KPIs are {}", k.name, known.join(", ")));
            }
            if !seen.insert(k.name.as_str()) {
                return bad(format!("kpis[{i}].name"), format!("`{}` is listed twice", k.name));
            }
            if let Some(m) = k.min_change
                && !(m.is_finite() && m >= 0.0)
            {
                return bad(format!("kpis[{i}].min_change"), format!("{m} is not a change; give a number of the KPI's unit, 0 or more"));
            }
            if let Some(l) = k.limit
                && !l.is_finite()
            {
                return bad(format!("kpis[{i}].limit"), format!("{l} is not a limit; give a number in the KPI's unit, such as 0.99"));
            }
            if let Some(t) = k.threshold
                && !(t.is_finite() && t >= 0.0)
            {
                return bad(format!("kpis[{i}].threshold"), format!("{t} is not a threshold; use a share such as 0.01"));
            }
        }
        Ok(())
    }

    /// The seeds every run uses.
    pub fn seed_list(&self) -> Vec<u64> {
        seeds(self.seeds.set, self.seeds.count)
    }

    /// The KPIs judged, as the gate takes them.
    pub fn kpis(&self) -> Vec<Kpi> {
        if self.kpis.is_empty() {
            return KPI_CATALOGUE
                .iter()
                .map(|i| Kpi { name: i.name.to_string(), direction: i.direction, threshold: i.threshold, floor: None, min_change: 0.0 })
                .collect();
        }
        self.kpis
            .iter()
            .filter_map(|k| {
                let info = kpi_info(&k.name)?;
                Some(Kpi {
                    name: info.name.to_string(),
                    direction: info.direction,
                    threshold: k.threshold.unwrap_or(info.threshold),
                    floor: k.limit,
                    min_change: k.min_change.unwrap_or(0.0),
                })
            })
            .collect()
    }
}

/// The catalogue entry of a KPI.
pub fn kpi_info(name: &str) -> Option<&'static KpiInfo> {
    KPI_CATALOGUE.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
format_version = 1
name = "t"
[[kpis]]
name = "cost_per_month"
[[kpis]]
name = "slo_attainment"
limit = 0.95
[[scenarios]]
file = "a.toml"
profile = "fgd"
"#;

    #[test]
    fn a_suite_reads_with_its_defaults() {
        let s = SuiteSpec::from_toml(SUITE, "r.toml").unwrap();
        assert_eq!((s.alpha, s.seeds.count), (0.05, 20));
        assert_eq!(s.seed_list().len(), 20);
        assert_eq!(s.scenarios[0].display_name(), "a@fgd");
        let k = s.kpis();
        assert_eq!(k[1].floor, Some(0.95));
        assert_eq!(k[1].direction, Direction::HigherIsBetter);
        assert_eq!(k[0].threshold, 0.01);
    }

    #[test]
    fn seed_sets_are_fixed_and_prefix_stable() {
        let a = seeds(1, 20);
        assert_eq!(&seeds(1, 5)[..], &a[..5]);
        let distinct: BTreeSet<u64> = a.iter().copied().collect();
        assert_eq!(distinct.len(), 20);
        // The versioned set never changes: stored results pair with new runs.
        assert_eq!(a[0], 2_324_861_979_054_413_167);
    }

    #[test]
    fn mistakes_name_their_field_and_line() {
        let e = SuiteSpec::from_toml(&SUITE.replace("\"slo_attainment\"", "\"slo\""), "r.toml").unwrap_err().to_string();
        assert!(e.contains("kpis[1].name") && e.contains("slo_attainment"), "{e}");
        let e = SuiteSpec::from_toml(&SUITE.replace("profile", "profil"), "r.toml").unwrap_err().to_string();
        assert!(e.starts_with("r.toml:11:1") && e.contains("profil"), "{e}");
        let e =
            SuiteSpec::from_toml(&SUITE.replace("name = \"t\"", "name = \"t\"\nseeds = { count = 3 }"), "r.toml").unwrap_err().to_string();
        assert!(e.contains("at least 6"), "{e}");
    }
}
