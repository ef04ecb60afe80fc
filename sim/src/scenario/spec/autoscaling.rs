//! Autoscaling of a service's replicas: reactive (HPA-like) and predictive.

use super::defaults::secs;
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

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
    #[serde(default = "secs::<15>")]
    pub interval: Dur,
    /// Scale up to the lowest recommendation of this window. Default `"0s"`.
    #[serde(default)]
    pub scale_up_window: Dur,
    /// Scale down to the highest recommendation of this window. Default `"5m"`.
    #[serde(default = "secs::<300>")]
    pub scale_down_window: Dur,
    /// Ratios within this of 1 change nothing. Default 0.1.
    #[serde(default = "tolerance")]
    pub tolerance: f64,
    /// Most replicas added in one step. Default: no limit.
    #[serde(default)]
    pub max_step_up: Option<u32>,
    /// Most replicas removed in one step. Default: no limit.
    #[serde(default)]
    pub max_step_down: Option<u32>,
    /// For `ttft` and `e2e`: the percentile of the interval's latencies to
    /// hold at `target`, above 0 and at most 1. Default 0.95.
    #[serde(default = "percentile")]
    pub percentile: f64,
    /// Scale ahead of demand: forecast the arrival rate with Holt-Winters
    /// and provision for the load expected `lead` from now. Default: reactive only.
    #[serde(default)]
    pub predictive: Option<PredictiveSpec>,
}

/// Holt-Winters forecasting of a service's arrival rate (additive, one season).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictiveSpec {
    /// How far ahead to provision: node provisioning plus cold start. Default `"15m"`.
    pub lead: Dur,
    /// The season. Default `"24h"`.
    pub season: Dur,
    /// Level smoothing, 0 to 1. Default 0.3.
    pub alpha: f64,
    /// Trend smoothing, 0 to 1. Default 0.01.
    pub beta: f64,
    /// Season smoothing, 0 to 1. Default 0.3.
    pub gamma: f64,
}

impl Default for PredictiveSpec {
    fn default() -> Self {
        PredictiveSpec { lead: Dur::secs(900), season: Dur::secs(86_400), alpha: 0.3, beta: 0.01, gamma: 0.3 }
    }
}

fn percentile() -> f64 {
    0.95
}

fn tolerance() -> f64 {
    0.1
}
