//! The scenario file format, version 1: every table and field a scenario may
//! hold, with its default.
//!
//! Every struct rejects unknown fields, so a misspelt key is an error with a
//! line and column rather than a silently ignored setting. Rates are per
//! second for requests and per hour for everything slower (interruptions,
//! jobs), as the field names say. Prices are in the billing currency per
//! node-hour.

use super::duration::Dur;
use crate::catalogue::{Accelerator, ModelArch, NodeType};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The format version this build of Twin reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Must be 1.
    pub format_version: u32,
    /// A short name, shown in reports.
    pub name: String,
    /// The question the scenario answers.
    #[serde(default)]
    pub description: String,
    /// How much simulated time to run, such as `"7d"`. Must be more than
    /// zero (and is not used by a `pod_trace` experiment).
    #[serde(default)]
    pub horizon: Dur,
    /// The seed used when the command line gives none. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How often the time series are sampled. Default `"1m"`.
    #[serde(default = "default_sample_interval")]
    pub sample_interval: Dur,
    /// Billing and energy settings.
    #[serde(default)]
    pub billing: BillingSpec,
    /// Accelerators added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub accelerators: Vec<Accelerator>,
    /// Node types added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub node_types: Vec<NodeType>,
    /// Model architectures added to (or replacing those of) the built-in catalogue.
    #[serde(default)]
    pub models: Vec<ModelArch>,
    /// The fleet: pools of identical nodes. Required, except in a `pod_trace` experiment.
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    /// LLM inference services.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Individual training jobs.
    #[serde(default)]
    pub training: Vec<TrainingSpec>,
    /// Generators of training jobs.
    #[serde(default)]
    pub training_streams: Vec<TrainingStreamSpec>,
    /// Job traces replayed as training and batch submissions.
    #[serde(default)]
    pub job_traces: Vec<JobTraceSpec>,
    /// Which scheduler places work. Default: Twin's scheduler with the `default` profile.
    #[serde(default)]
    pub scheduler: SchedulerSpec,
    /// Policy-as-code (Rego) at admission, placement and scaling. Default: none.
    #[serde(default)]
    pub policies: Option<PoliciesSpec>,
    /// A scheduler experiment instead of a simulation: fill a trace's nodes
    /// with its pods under each profile (the FGD paper's experiment).
    #[serde(default)]
    pub pod_trace: Option<PodTraceSpec>,
}

/// The pod-trace experiment: a trace's pods arrive at its nodes and never
/// leave, until their GPU demand reaches `fill_to` of the GPU capacity; each
/// profile's allocation and fragmentation are recorded as demand grows.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodTraceSpec {
    /// The trace's format. Default and only value: `"openb"` (Alibaba openb 2023).
    #[serde(default)]
    pub format: PodTraceFormat,
    /// The pod list CSV, relative to the scenario file.
    pub pods: String,
    /// The node list CSV, relative to the scenario file.
    pub nodes: String,
    /// Profiles to compare: built-in names or tables. Default: every built-in profile.
    #[serde(default)]
    pub profiles: Vec<ProfileChoice>,
    /// Arrived GPU demand, as a share of capacity, at which to stop. Default 1.3.
    #[serde(default = "default_fill_to")]
    pub fill_to: f64,
    /// Record a point each time arrived demand grows by this share of capacity. Default 0.05.
    #[serde(default = "default_report_every")]
    pub report_every: f64,
}

/// Formats of pod traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodTraceFormat {
    /// Alibaba openb 2023: `openb_pod_list_*.csv` and `openb_node_list_gpu_node.csv`.
    #[default]
    Openb,
}

fn default_fill_to() -> f64 {
    1.3
}

fn default_report_every() -> f64 {
    0.05
}

/// Rego policies to evaluate in the loop (see docs/policies.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesSpec {
    /// Rego files or folders of them, relative to the scenario file; a
    /// built-in scenario names the embedded library's files, such as
    /// `../policies/admission.rego` or `../policies`. Files ending in
    /// `_test.rego` are tests and are not loaded.
    pub files: Vec<String>,
    /// A JSON data document (`data.*` in the policies), relative to the scenario file.
    #[serde(default)]
    pub data: Option<String>,
}

/// Which scheduler places replicas and gangs on nodes.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSpec {
    /// A built-in profile of Twin's scheduler (`default`, `bin-pack`,
    /// `spread`, `cost-aware`, `gavel`, `fgd`), `spot-first-bin-pack` (the
    /// fixed rule, not the framework), or a table
    /// `{ name, plugins = [{ name, weight }], preemption }`. Default `default`.
    #[serde(default)]
    pub profile: Option<ProfileChoice>,
    /// A scheduler in another language, spoken to over stdin/stdout
    /// (docs/external-scheduler.md). Run by the `twin` binary.
    #[serde(default)]
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
    #[serde(default = "default_external_timeout")]
    pub timeout: Dur,
}

fn default_external_timeout() -> Dur {
    Dur::secs(10)
}

fn default_seed() -> u64 {
    1
}
fn default_sample_interval() -> Dur {
    Dur::secs(60)
}

/// How the ledger bills.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSpec {
    /// Power usage effectiveness of on-premises data centres. Default 1.3.
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// Electricity price for on-premises pools, per kWh. Default 0.12.
    #[serde(default = "default_energy_price")]
    pub energy_price_per_kwh: f64,
    /// The shortest billed lifetime of a cloud node. Default `"60s"` (AWS, GCP).
    #[serde(default = "default_minimum_charge")]
    pub minimum_charge: Dur,
    /// Length of one charge period in the exported ledger. Default `"1h"`.
    #[serde(default = "default_ledger_period")]
    pub ledger_period: Dur,
    /// Currency code shown in reports. Default `"USD"`.
    #[serde(default = "default_currency")]
    pub currency: String,
}

impl Default for BillingSpec {
    fn default() -> Self {
        BillingSpec {
            pue: default_pue(),
            energy_price_per_kwh: default_energy_price(),
            minimum_charge: default_minimum_charge(),
            ledger_period: default_ledger_period(),
            currency: default_currency(),
        }
    }
}

fn default_pue() -> f64 {
    1.3
}
fn default_energy_price() -> f64 {
    0.12
}
fn default_minimum_charge() -> Dur {
    Dur::secs(60)
}
fn default_ledger_period() -> Dur {
    Dur::secs(3_600)
}
fn default_currency() -> String {
    "USD".into()
}

/// How a pool's capacity is bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityType {
    /// Owned hardware: amortised capital cost plus energy, billed always.
    #[serde(alias = "on_prem", alias = "onprem")]
    OnPrem,
    /// A commitment (reserved instances, savings plan, CUD): billed always.
    Reserved,
    /// Spot or preemptible capacity: cheap, interruptible, may run out.
    Spot,
    /// On-demand cloud capacity, billed per second while it runs.
    #[serde(alias = "on_demand", alias = "ondemand")]
    OnDemand,
}

impl CapacityType {
    /// The name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::OnPrem => "on-prem",
            CapacityType::Reserved => "reserved",
            CapacityType::Spot => "spot",
            CapacityType::OnDemand => "on-demand",
        }
    }

    /// Whether the capacity is paid for whether it is used or not.
    pub fn is_committed(self) -> bool {
        matches!(self, CapacityType::OnPrem | CapacityType::Reserved)
    }

    /// The FOCUS `PricingCategory` of this capacity.
    pub fn focus_pricing_category(self) -> &'static str {
        match self {
            CapacityType::OnPrem | CapacityType::Reserved => "Committed",
            CapacityType::Spot => "Dynamic",
            CapacityType::OnDemand => "Standard",
        }
    }
}

/// A pool: identical nodes in one place, bought one way.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Unique name that workloads refer to.
    pub name: String,
    /// The node type (catalogue or scenario `[[node_types]]`).
    pub node_type: String,
    /// Cloud region or site.
    #[serde(default)]
    pub region: String,
    /// Availability zone or room.
    #[serde(default)]
    pub zone: String,
    /// How the capacity is bought.
    pub capacity: CapacityType,
    /// Price per node-hour: a number, or `{ mean_reverting = {...} }`, or
    /// `{ table = {...} }`. Default for on-demand: the node type's list price.
    /// Required for spot and reserved; on-premises pools use `capex` instead.
    #[serde(default)]
    pub price: Option<PriceSpec>,
    /// Reserved and on-premises pools: the fixed number of nodes.
    #[serde(default)]
    pub nodes: Option<u32>,
    /// Cloud pools: nodes kept even when empty. Default 0.
    #[serde(default)]
    pub min_nodes: u32,
    /// Cloud pools: the most nodes the pool may grow to. Default 64.
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Cloud pools: nodes running at the start. Default `min_nodes`.
    #[serde(default)]
    pub initial_nodes: Option<u32>,
    /// Time from asking for a cloud node to its being ready. Default `"4m"`.
    #[serde(default)]
    pub provisioning_delay: Option<Dur>,
    /// How long a cloud node stays empty before it is released. Default `"10m"`.
    #[serde(default)]
    pub scale_down_delay: Option<Dur>,
    /// Spot pools: how often nodes are reclaimed, and the notice given.
    #[serde(default)]
    pub interruption: Option<InterruptionSpec>,
    /// Spot pools: spells when no new node can be had.
    #[serde(default)]
    pub stockouts: Option<StockoutSpec>,
    /// Hardware failures of single nodes.
    #[serde(default)]
    pub failures: Option<FailureSpec>,
    /// On-premises pools: capital cost, amortised per node-hour.
    #[serde(default)]
    pub capex: Option<CapexSpec>,
    /// Electricity price for this pool, per kWh. Default: `billing.energy_price_per_kwh`.
    #[serde(default)]
    pub energy_price_per_kwh: Option<f64>,
    /// PUE of this pool's site. Default: `billing.pue`.
    #[serde(default)]
    pub pue: Option<f64>,
    /// On-demand price per node-hour that savings are measured against.
    /// Default: the node type's list price.
    #[serde(default)]
    pub list_price_per_hour: Option<f64>,
    /// Node labels, beside those Twin sets (`twin.dev/pool`, `gpu.type`,
    /// `twin.dev/capacity-type`, region and zone).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints, as in Kubernetes: `[{ key = "dedicated", value = "training", effect = "NoSchedule" }]`.
    #[serde(default)]
    pub taints: Vec<twin_scheduler::Taint>,
    /// Recorded telemetry that decides when this pool's accelerators were
    /// busy and what they drew (on-premises and reserved pools; no workload
    /// of the scenario may run here). Default: none, the model's own work.
    #[serde(default)]
    pub telemetry: Option<TelemetrySpec>,
}

/// A telemetry recording replayed onto a pool: the recording's GPUs, in id
/// order, are the pool's accelerators, node by node.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySpec {
    /// The recording, relative to the scenario file: nvidia-smi CSV, dmon,
    /// DCGM exporter text, or Parquet from `twin trace import` or `twin record`.
    pub file: String,
    /// Its format: `"auto"`, `"nvidia-smi"`, `"dmon"`, `"dcgm"` or
    /// `"parquet"`. Default `"auto"` (Parquet by extension, text by content).
    #[serde(default = "auto")]
    pub format: String,
    /// Who the busy time is billed to (a workload name in reports). Default `"recorded/<pool>"`.
    #[serde(default)]
    pub owner: String,
    /// The team that pays for the busy time. Default `"default"`.
    #[serde(default = "default_team")]
    pub team: String,
    /// Play the recording this many times faster. Default 1.
    #[serde(default = "one_f64")]
    pub speed: f64,
    /// Loop the recording until the horizon. Default false (after it ends the
    /// accelerators are unobserved and billed idle).
    #[serde(default)]
    pub repeat: bool,
    /// Utilisation (percent) below which an accelerator is idle. Default 5.
    #[serde(default = "default_idle_below")]
    pub idle_below_pct: f64,
    /// An idle spell at least this long is waste. Default `"30m"`.
    #[serde(default = "default_idle_after")]
    pub idle_after: Dur,
}

fn default_idle_below() -> f64 {
    5.0
}

fn default_idle_after() -> Dur {
    Dur::secs(1_800)
}

/// A price process, per node-hour.
#[derive(Clone, Debug, Serialize)]
pub enum PriceSpec {
    /// One price for the whole run. Written as a bare number or `{ fixed = 12.5 }`.
    Fixed(f64),
    /// An Ornstein-Uhlenbeck process around a mean, with jumps.
    MeanReverting(MeanRevertingSpec),
    /// Piecewise-constant prices from a table, optionally repeating.
    Table(PriceTableSpec),
    /// A real price history (GCP price changes, AWS spot price history),
    /// read at the edge and replayed as a table.
    History(PriceHistorySpec),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum PriceSpecTagged {
    Fixed(f64),
    MeanReverting(MeanRevertingSpec),
    Table(PriceTableSpec),
    History(PriceHistorySpec),
}

/// A recorded price history replayed from a calendar date.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceHistorySpec {
    /// The file, relative to the scenario file: GCP's price-change CSV or
    /// `aws ec2 describe-spot-price-history` JSON (or Parquet from `twin trace import`).
    pub file: String,
    /// `"auto"`, `"gcp-changes"`, `"aws-spot-history"` or `"parquet"`. Default `"auto"`.
    #[serde(default = "auto")]
    pub format: String,
    /// The machine type as the file names it (`a3-highgpu-8g`, `p5.48xlarge`). Default: the pool's node type.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Region or zone as the file names it. Default: the pool's zone if set, else its region.
    #[serde(default)]
    pub location: Option<String>,
    /// `"spot"` or `"on-demand"`. Default `"spot"`.
    #[serde(default = "spot")]
    pub capacity: String,
    /// The calendar date (UTC, `YYYY-MM-DD`) the run's time zero stands for:
    /// the price holding then is the first price.
    pub start: String,
    /// Replay this many times faster (7 plays a week of history in a day). Default 1.
    #[serde(default = "one_f64")]
    pub speed: f64,
}

fn spot() -> String {
    "spot".to_string()
}

impl<'de> Deserialize<'de> for PriceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PriceSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a price per node-hour, or a table with one of `fixed`, `mean_reverting`, `table`, `history`")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PriceSpec, E> {
                Ok(PriceSpec::Fixed(v as f64))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<PriceSpec, A::Error> {
                let tagged = PriceSpecTagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match tagged {
                    PriceSpecTagged::Fixed(p) => PriceSpec::Fixed(p),
                    PriceSpecTagged::MeanReverting(m) => PriceSpec::MeanReverting(m),
                    PriceSpecTagged::Table(t) => PriceSpec::Table(t),
                    PriceSpecTagged::History(h) => PriceSpec::History(h),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A mean-reverting price with jumps: `dP = θ(μ − P)dt + σμ dW`, plus jumps
/// arriving as a Poisson process whose relative size is exponential.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeanRevertingSpec {
    /// The long-run mean μ, per node-hour.
    pub mean: f64,
    /// The price at the start. Default: the mean.
    #[serde(default)]
    pub initial: Option<f64>,
    /// Reversion speed θ, per hour. Default 0.5.
    #[serde(default = "default_reversion")]
    pub reversion_per_hour: f64,
    /// Volatility σ, as a fraction of the mean per square root of an hour. Default 0.05.
    #[serde(default = "default_volatility")]
    pub volatility: f64,
    /// Mean number of jumps per day. Default 0.
    #[serde(default)]
    pub jumps_per_day: f64,
    /// Mean relative jump size (0.3 = +30% of the mean). Default 0.3.
    #[serde(default = "default_jump_size")]
    pub jump_size: f64,
    /// Lowest price. Default: 10% of the mean.
    #[serde(default)]
    pub floor: Option<f64>,
    /// Highest price. Default: none.
    #[serde(default)]
    pub cap: Option<f64>,
    /// How often the price changes. Default `"5m"`.
    #[serde(default = "default_tick")]
    pub tick: Dur,
}

fn default_reversion() -> f64 {
    0.5
}
fn default_volatility() -> f64 {
    0.05
}
fn default_jump_size() -> f64 {
    0.3
}
fn default_tick() -> Dur {
    Dur::secs(300)
}

impl MeanRevertingSpec {
    /// The lowest price: `floor`, or 10% of the mean.
    pub fn floor_price(&self) -> f64 {
        self.floor.unwrap_or(0.1 * self.mean)
    }
}

/// Piecewise-constant prices: each point's price holds until the next point.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTableSpec {
    /// Change points in increasing time; the first must be at `"0s"`.
    pub points: Vec<PricePoint>,
    /// Repeat the table with this period (such as `"24h"`). Default: hold the last price.
    #[serde(default)]
    pub repeat_every: Option<Dur>,
}

/// One change point of a price table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PricePoint {
    /// When the price starts to hold.
    pub at: Dur,
    /// The price per node-hour from then on.
    pub price: f64,
}

/// Spot interruptions: a constant hazard per node, with a notice period.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InterruptionSpec {
    /// Interruptions per node-hour. Give this or `band`.
    #[serde(default)]
    pub rate_per_hour: Option<f64>,
    /// An AWS Spot Advisor band (`"<5%"`, `"5-10%"`, `"10-15%"`, `"15-20%"`,
    /// `">20%"`: the share of instances interrupted in a month); the band's
    /// middle becomes the hazard. Give this, `rate_per_hour` or `advisor`.
    #[serde(default)]
    pub band: Option<String>,
    /// The band from AWS Spot Advisor data (its `spot-advisor-data.json`, or
    /// the flattened CSV), newest snapshot, for this pool's instance type and region.
    #[serde(default)]
    pub advisor: Option<AdvisorRefSpec>,
    /// Warning before the node is taken. Default `"2m"` (AWS).
    #[serde(default = "default_notice")]
    pub notice: Dur,
}

/// Where to look a pool's Spot Advisor band up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorRefSpec {
    /// The advisor file, relative to the scenario file.
    pub file: String,
    /// The instance type. Default: the pool's node type.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// The region. Default: the pool's region.
    #[serde(default)]
    pub region: Option<String>,
}

fn default_notice() -> Dur {
    Dur::secs(120)
}

/// Spells when a spot pool has no capacity to give.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StockoutSpec {
    /// Mean time between stock-outs (exponential).
    pub mean_available: Dur,
    /// Mean length of a stock-out (exponential).
    pub mean_duration: Dur,
}

/// Node hardware failures.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// Mean time between failures of one node (exponential).
    pub mtbf: Dur,
    /// Time to repair an owned or reserved node. Default `"4h"`; failed cloud
    /// nodes are replaced instead.
    #[serde(default = "default_repair")]
    pub repair: Dur,
}

fn default_repair() -> Dur {
    Dur::secs(4 * 3_600)
}

/// Capital cost of owned nodes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapexSpec {
    /// Purchase price of one node.
    pub per_node: f64,
    /// Straight-line amortisation period, in years of 8,760 hours.
    pub years: f64,
    /// Other running costs per node-hour (support, space, staff). Default 0.
    #[serde(default)]
    pub opex_per_node_hour: f64,
}

impl CapexSpec {
    /// The capital cost amortised straight-line over `years` of 8,760 hours, plus running costs, per node-hour.
    pub fn price_per_node_hour(&self) -> f64 {
        self.per_node / (self.years * 8_760.0) + self.opex_per_node_hour
    }
}

/// An LLM inference service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Unique name among workloads.
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "default_team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The model architecture served (catalogue or scenario `[[models]]`).
    pub model: String,
    /// Pools replicas may run in, by name.
    pub pools: Vec<String>,
    /// Accelerators per replica (tensor parallelism). Default 1.
    #[serde(default = "one_u32")]
    pub gpus_per_replica: u32,
    /// Replicas at the start. Default 1.
    #[serde(default = "one_u32")]
    pub replicas: u32,
    /// Most requests decoding together on one replica. Default 256.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// Most prompt tokens prefilled in one engine step (chunked prefill). Default 2048.
    #[serde(default = "default_max_batch_tokens")]
    pub max_batch_tokens: u32,
    /// Most requests waiting for a replica; more are dropped. Default 100000.
    #[serde(default = "default_max_queue")]
    pub max_queue: u32,
    /// Requests waiting longer than this for a replica are dropped. Default: never.
    #[serde(default)]
    pub queue_timeout: Option<Dur>,
    /// Time from a replica's node being ready to its serving: container start
    /// and weight loading. Default: 30 s plus the weights at 2 GB/s.
    #[serde(default)]
    pub cold_start: Option<Dur>,
    /// How long requests take to serve. Default `"roofline"`.
    #[serde(default)]
    pub service_time: ServiceTimeSpec,
    /// Efficiencies and overheads of the roofline step model.
    #[serde(default)]
    pub calibration: CalibrationSpec,
    /// Latency objectives.
    pub slo: SloSpec,
    /// How requests arrive.
    pub arrivals: ArrivalSpec,
    /// Prompt length, in tokens. Required, unless `arrivals` replays a
    /// request trace, whose tokens are used where this is left out.
    #[serde(default)]
    pub prompt_tokens: Option<TokenSpec>,
    /// Output length, in tokens. As `prompt_tokens`.
    #[serde(default)]
    pub output_tokens: Option<TokenSpec>,
    /// Reactive autoscaling of replicas. Default: a fixed replica count.
    #[serde(default)]
    pub autoscaler: Option<AutoscalerSpec>,
}

impl ServiceSpec {
    /// Time from a replica's start to its serving: `cold_start`, or 30 s
    /// for the container plus `model`'s weights loaded at 2 GB/s.
    pub fn cold_start_for(&self, model: &ModelArch) -> crate::time::SimDuration {
        self.cold_start.map_or_else(|| crate::time::SimDuration::from_secs_f64(30.0 + model.weight_bytes() / 2e9), Dur::get)
    }
}

fn default_team() -> String {
    "default".into()
}
fn one_u32() -> u32 {
    1
}
fn default_max_batch() -> u32 {
    256
}
fn default_max_batch_tokens() -> u32 {
    2_048
}
fn default_max_queue() -> u32 {
    100_000
}

/// How long a request takes once a replica takes it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ServiceTimeSpec {
    /// Engine steps timed by the roofline model of `models.md` (continuous
    /// batching, chunked prefill, KV-cache admission).
    #[default]
    Roofline,
    /// Each request holds one batch slot for an exponential time with this
    /// mean and is answered whole (time to first token = end-to-end latency).
    /// With `max_batch = 1` a service is an M/M/c queue.
    Exponential {
        /// Mean service time.
        mean: Dur,
    },
    /// Each request holds one batch slot for exactly this long.
    Fixed {
        /// The service time.
        duration: Dur,
    },
}

/// Efficiencies and fixed overheads of the roofline step model. Defaults are
/// the fitted values `models.md` quotes from BLIS (vLLM with CUDA graphs).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSpec {
    /// Prefill MFU. Default: the accelerator's catalogue value.
    #[serde(default)]
    pub mfu_prefill: Option<f64>,
    /// Decode MFU. Default: the accelerator's catalogue value.
    #[serde(default)]
    pub mfu_decode: Option<f64>,
    /// Memory-bandwidth utilisation streaming weights. Default 0.72.
    #[serde(default = "default_mbu_weights")]
    pub mbu_weights: f64,
    /// Memory-bandwidth utilisation reading the KV cache. Default 0.5.
    #[serde(default = "default_mbu_kv")]
    pub mbu_kv: f64,
    /// Fixed time per layer per step. Default `"32us"`.
    #[serde(default = "default_layer_overhead")]
    pub layer_overhead: Dur,
    /// Fixed time per step. Default `"126us"`.
    #[serde(default = "default_step_overhead")]
    pub step_overhead: Dur,
    /// Fixed time per request in the batch per step. Default `"4.4us"`.
    #[serde(default = "default_request_overhead")]
    pub request_overhead: Dur,
    /// Exponent p of the norm combining compute and memory time
    /// (`(Tc^p + Tm^p)^(1/p)`); 0 means `max`. Default 2.
    #[serde(default = "default_combine_p")]
    pub combine_p: f64,
    /// Share of accelerator memory the engine may use. Default 0.9.
    #[serde(default = "default_memory_fraction")]
    pub memory_fraction: f64,
    /// Memory kept for activations per accelerator, in GB. Default 2.
    #[serde(default = "default_activation_reserve")]
    pub activation_reserve_gb: f64,
}

impl Default for CalibrationSpec {
    fn default() -> Self {
        CalibrationSpec {
            mfu_prefill: None,
            mfu_decode: None,
            mbu_weights: default_mbu_weights(),
            mbu_kv: default_mbu_kv(),
            layer_overhead: default_layer_overhead(),
            step_overhead: default_step_overhead(),
            request_overhead: default_request_overhead(),
            combine_p: default_combine_p(),
            memory_fraction: default_memory_fraction(),
            activation_reserve_gb: default_activation_reserve(),
        }
    }
}

fn default_mbu_weights() -> f64 {
    0.72
}
fn default_mbu_kv() -> f64 {
    0.5
}
fn default_layer_overhead() -> Dur {
    Dur(crate::time::SimDuration(32_000))
}
fn default_step_overhead() -> Dur {
    Dur(crate::time::SimDuration(126_000))
}
fn default_request_overhead() -> Dur {
    Dur(crate::time::SimDuration(4_400))
}
fn default_combine_p() -> f64 {
    2.0
}
fn default_memory_fraction() -> f64 {
    0.9
}
fn default_activation_reserve() -> f64 {
    2.0
}

/// Latency objectives of a service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Time to first token, from arrival.
    pub ttft: Dur,
    /// End-to-end latency, from arrival to the last token.
    pub e2e: Dur,
    /// Share of requests that must meet both. Default 0.99.
    #[serde(default = "default_slo_target")]
    pub target: f64,
}

fn default_slo_target() -> f64 {
    0.99
}

/// How requests arrive. Rates are requests per second.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ArrivalSpec {
    /// A homogeneous Poisson process.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// A two-state Markov-modulated Poisson process: calm and burst.
    Mmpp {
        /// Rate in each state, requests per second.
        rates: [f64; 2],
        /// Mean time spent in each state before switching (exponential).
        mean_durations: [Dur; 2],
    },
    /// A Poisson process whose rate follows the day:
    /// `rate(t) = mean_rate × (1 + amplitude × cos(2π (t − peak) / 24h))`.
    Diurnal {
        /// Mean requests per second over a day.
        mean_rate: f64,
        /// Relative swing, between 0 and 1.
        amplitude: f64,
        /// Time of day of the peak, such as `"14h"`.
        peak: Dur,
    },
    /// A Poisson process whose rate steps through a table (a launch-day
    /// surge, a planned migration): each point's rate holds until the next.
    Piecewise {
        /// Change points in increasing time; the first must be at `"0s"`.
        points: Vec<RatePoint>,
        /// Repeat the table with this period (such as `"24h"`). Default: hold the last rate.
        #[serde(default)]
        repeat_every: Option<Dur>,
    },
    /// A request trace replayed: each request at its recorded offset from
    /// the trace's first (divided by `speed`), with its recorded prompt and
    /// output tokens unless the service sets its own.
    Trace(TraceArrivals),
    /// A self-exciting Hawkes process with an exponential kernel: each arrival
    /// raises the rate by `branching / decay`, fading with time constant `decay`.
    Hawkes {
        /// Background requests per second.
        baseline: f64,
        /// Mean number of arrivals each arrival triggers; below 1.
        branching: f64,
        /// Time constant of the excitation.
        decay: Dur,
    },
}

/// A request trace as an arrival process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceArrivals {
    /// The trace file, relative to the scenario file.
    pub file: String,
    /// Its format: `"azure"` (Azure LLM inference 2023 CSV: `TIMESTAMP,
    /// ContextTokens, GeneratedTokens`), `"mooncake"` (JSON lines with
    /// `timestamp` in ms, `input_length`, `output_length`), or `"auto"`
    /// (from the extension and header). Default `"auto"`.
    #[serde(default = "auto")]
    pub format: String,
    /// Replay this many times faster (2 halves every gap). Default 1.
    #[serde(default = "one_f64")]
    pub speed: f64,
    /// Start the trace again when it ends, for horizons longer than it. Default false.
    #[serde(default)]
    pub repeat: bool,
}

fn auto() -> String {
    "auto".to_string()
}

fn one_f64() -> f64 {
    1.0
}

/// One change point of a piecewise arrival rate.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    /// When the rate starts to hold.
    pub at: Dur,
    /// Requests per second from then on.
    pub rate: f64,
}

/// A distribution of token counts.
#[derive(Clone, Debug, Serialize)]
pub enum TokenSpec {
    /// Always the same count. Written as a bare integer or `{ fixed = 512 }`.
    Fixed(u32),
    /// Uniform between `min` and `max`, inclusive.
    Uniform {
        /// Smallest count.
        min: u32,
        /// Largest count.
        max: u32,
    },
    /// Log-normal with the given median and log-space standard deviation,
    /// rounded and clamped to `[1, max]`.
    Lognormal {
        /// Median count.
        median: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Largest count. Default 32768.
        max: Option<u32>,
    },
    /// Geometric with the given mean (memoryless lengths).
    Geometric {
        /// Mean count, at least 1.
        mean: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum TokenSpecTagged {
    Fixed(u32),
    Uniform {
        min: u32,
        max: u32,
    },
    Lognormal {
        median: f64,
        sigma: f64,
        #[serde(default)]
        max: Option<u32>,
    },
    Geometric {
        mean: f64,
    },
}

impl<'de> Deserialize<'de> for TokenSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TokenSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token count, or a table with one of `fixed`, `uniform`, `lognormal`, `geometric`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TokenSpec, E> {
                u32::try_from(v)
                    .map(TokenSpec::Fixed)
                    .map_err(|_| E::custom(format!("a token count must be between 0 and {}, not {v}", u32::MAX)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TokenSpec, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<TokenSpec, A::Error> {
                let t = TokenSpecTagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match t {
                    TokenSpecTagged::Fixed(n) => TokenSpec::Fixed(n),
                    TokenSpecTagged::Uniform { min, max } => TokenSpec::Uniform { min, max },
                    TokenSpecTagged::Lognormal { median, sigma, max } => TokenSpec::Lognormal { median, sigma, max },
                    TokenSpecTagged::Geometric { mean } => TokenSpec::Geometric { mean },
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// What a reactive autoscaler watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleMetric {
    /// Requests in the system (running, assigned and queued) per ready replica.
    Concurrency,
    /// Requests waiting for a replica, per ready replica.
    Queue,
    /// Share of time ready replicas spent running engine steps (0 to 1).
    #[serde(alias = "utilization")]
    Utilisation,
    /// Time to first token, seconds: the `percentile` of requests finished
    /// in the last interval, or the wait of the oldest queued request if
    /// longer. Scaled as an HPA object metric: `ceil(ready × value / target)`.
    Ttft,
    /// End-to-end latency, seconds, observed as for `ttft`.
    E2e,
}

impl ScaleMetric {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleMetric::Concurrency => "concurrency",
            ScaleMetric::Queue => "queue",
            ScaleMetric::Utilisation => "utilisation",
            ScaleMetric::Ttft => "ttft",
            ScaleMetric::E2e => "e2e",
        }
    }

    /// Whether the metric is a latency (a service-wide value, not a sum over replicas).
    pub fn is_latency(self) -> bool {
        matches!(self, ScaleMetric::Ttft | ScaleMetric::E2e)
    }
}

/// An HPA-like reactive autoscaler for a service's replicas.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerSpec {
    /// The metric to hold at `target`.
    pub metric: ScaleMetric,
    /// The target value of the metric per replica.
    pub target: f64,
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// How often the autoscaler looks. Default `"15s"`.
    #[serde(default = "default_interval")]
    pub interval: Dur,
    /// Scale up to the lowest recommendation of this window. Default `"0s"`.
    #[serde(default)]
    pub scale_up_window: Dur,
    /// Scale down to the highest recommendation of this window. Default `"5m"`.
    #[serde(default = "default_down_window")]
    pub scale_down_window: Dur,
    /// Ratios within this of 1 change nothing. Default 0.1.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Most replicas added in one step. Default: no limit.
    #[serde(default)]
    pub max_step_up: Option<u32>,
    /// Most replicas removed in one step. Default: no limit.
    #[serde(default)]
    pub max_step_down: Option<u32>,
    /// For `ttft` and `e2e`: the percentile of the interval's latencies to
    /// hold at `target`, above 0 and at most 1. Default 0.95.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
    /// Scale ahead of demand: forecast the arrival rate with Holt-Winters
    /// and provision for the load expected `lead` from now. Default: reactive only.
    #[serde(default)]
    pub predictive: Option<PredictiveSpec>,
}

/// Holt-Winters forecasting of a service's arrival rate (additive, one season).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictiveSpec {
    /// How far ahead to provision: node provisioning plus cold start. Default `"15m"`.
    #[serde(default = "default_lead")]
    pub lead: Dur,
    /// The season. Default `"24h"`.
    #[serde(default = "default_season")]
    pub season: Dur,
    /// Level smoothing, 0 to 1. Default 0.3.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Trend smoothing, 0 to 1. Default 0.01.
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Season smoothing, 0 to 1. Default 0.3.
    #[serde(default = "default_gamma")]
    pub gamma: f64,
}

fn default_lead() -> Dur {
    Dur::secs(900)
}
fn default_season() -> Dur {
    Dur::secs(86_400)
}
fn default_alpha() -> f64 {
    0.3
}
fn default_beta() -> f64 {
    0.01
}
fn default_gamma() -> f64 {
    0.3
}

fn default_percentile() -> f64 {
    0.95
}

fn default_interval() -> Dur {
    Dur::secs(15)
}
fn default_down_window() -> Dur {
    Dur::secs(300)
}
fn default_tolerance() -> f64 {
    0.1
}

/// How the scheduler treats a workload.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSpec {
    /// Priority: higher is placed first and may preempt lower. Default 0.
    #[serde(default)]
    pub priority: i32,
    /// Node labels required, such as `{ "gpu.type" = "H100" }`.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Taints tolerated, as in Kubernetes: `[{ key = "dedicated", value = "training" }]`.
    #[serde(default)]
    pub tolerations: Vec<twin_scheduler::Toleration>,
}

/// One training job: a gang of accelerators that start together.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// Unique name among workloads.
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "default_team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the gang may run in (all of it in one pool).
    pub pools: Vec<String>,
    /// Accelerators in the gang.
    pub gpus: u32,
    /// Work, in H100-hours (GPU-hours on the reference accelerator).
    pub work_gpu_hours: f64,
    /// When the job is submitted. Default `"0s"`.
    #[serde(default)]
    pub submit_at: Dur,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "default_ckpt_interval")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "default_ckpt_cost")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the job checkpoints at all; without, a preemption loses
    /// everything and the scheduler keeps it off risky spot. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
    /// Speed per accelerator relative to H100, overriding the catalogue.
    #[serde(default)]
    pub speed: BTreeMap<String, f64>,
}

fn yes() -> bool {
    true
}

fn default_ckpt_interval() -> Dur {
    Dur::secs(3_600)
}
fn default_ckpt_cost() -> Dur {
    Dur::secs(60)
}

/// A generator of training jobs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingStreamSpec {
    /// Prefix of the generated jobs' names (`name-0`, `name-1`, ...).
    pub name: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "default_team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies: `critical = "true"`, `residency = "eu"`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the jobs may run in.
    pub pools: Vec<String>,
    /// Poisson arrivals, jobs per hour.
    pub jobs_per_hour: f64,
    /// Gang sizes to draw from, uniformly.
    pub gpus: Vec<u32>,
    /// Work per job in H100-hours: log-normal.
    pub work_gpu_hours: LognormalSpec,
    /// When the first job may arrive. Default `"0s"`.
    #[serde(default)]
    pub start: Dur,
    /// No job arrives after this. Default: the horizon.
    #[serde(default)]
    pub stop: Option<Dur>,
    /// At most this many jobs. Default: no limit.
    #[serde(default)]
    pub max_jobs: Option<u32>,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "default_ckpt_interval")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "default_ckpt_cost")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the job checkpoints at all; without, a preemption loses
    /// everything and the scheduler keeps it off risky spot. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
    /// Speed per accelerator relative to H100, overriding the catalogue.
    #[serde(default)]
    pub speed: BTreeMap<String, f64>,
}

/// A job trace (Alibaba openb 2023 pods, a Helios cluster sequence, or
/// Parquet from `twin trace import`) replayed as gang submissions: each
/// recorded job asks for its GPUs (a share of one GPU takes a whole one) and
/// carries its recorded GPU-hours as work.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobTraceSpec {
    /// Unique name among workloads; jobs are named `name/job`.
    pub name: String,
    /// The trace file, relative to the scenario file.
    pub file: String,
    /// `"auto"`, `"openb"`, `"helios"` or `"parquet"`. Default `"auto"`.
    #[serde(default = "auto")]
    pub format: String,
    /// The team that pays. Default `"default"`.
    #[serde(default = "default_team")]
    pub team: String,
    /// Kubernetes namespace. Default: the team.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Scheduling: priority, node selector, tolerations.
    #[serde(default)]
    pub scheduling: SchedulingSpec,
    /// Container image (for admission policies).
    #[serde(default)]
    pub image: String,
    /// Labels (for policies).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pools the jobs may run in.
    pub pools: Vec<String>,
    /// Start this far into the trace. Default `"0s"`.
    #[serde(default)]
    pub skip: Dur,
    /// Replay this many times faster: submissions come sooner, the work is unchanged. Default 1.
    #[serde(default = "one_f64")]
    pub speed: f64,
    /// H100-hours of work per recorded GPU-hour (the trace's GPUs may be slower). Default 1.
    #[serde(default = "one_f64")]
    pub work_per_gpu_hour: f64,
    /// At most this many jobs. Default: every job in the horizon.
    #[serde(default)]
    pub max_jobs: Option<u32>,
    /// Compute time between checkpoints. Default `"1h"`.
    #[serde(default = "default_ckpt_interval")]
    pub checkpoint_interval: Dur,
    /// Time a checkpoint takes, with no progress. Default `"1m"`.
    #[serde(default = "default_ckpt_cost")]
    pub checkpoint_cost: Dur,
    /// On a spot notice, checkpoint at once if it fits in the notice. Default false.
    #[serde(default)]
    pub checkpoint_on_notice: bool,
    /// Whether the jobs checkpoint at all. Default true.
    #[serde(default = "yes")]
    pub checkpoints: bool,
}

/// A log-normal distribution by its median and log-space standard deviation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LognormalSpec {
    /// The median.
    pub median: f64,
    /// Standard deviation of the logarithm.
    pub sigma: f64,
}

/// Most nodes of a cloud pool when `max_nodes` is not given.
pub const DEFAULT_MAX_NODES: u32 = 64;

impl PoolSpec {
    /// The most nodes the pool can have.
    pub fn max_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.max_nodes.unwrap_or(DEFAULT_MAX_NODES) }
    }

    /// Nodes the pool never goes below.
    pub fn min_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.min_nodes }
    }

    /// Nodes running at the start.
    pub fn initial_node_count(&self) -> u32 {
        if self.capacity.is_committed() { self.nodes.unwrap_or(0) } else { self.initial_nodes.unwrap_or(self.min_nodes) }
    }

    /// Time from asking for a node to its being ready.
    pub fn provisioning(&self) -> crate::time::SimDuration {
        self.provisioning_delay.map_or(crate::time::SimDuration::from_secs(240), Dur::get)
    }

    /// How long a cloud node stays empty before it is released.
    pub fn scale_down(&self) -> crate::time::SimDuration {
        self.scale_down_delay.map_or(crate::time::SimDuration::from_secs(600), Dur::get)
    }
}
