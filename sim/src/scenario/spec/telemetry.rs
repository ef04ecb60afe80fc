//! Recorded telemetry replayed onto a pool's accelerators.

use super::defaults::{one, secs, team};
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

named_enum! {
    /// Formats of telemetry recordings (`telemetry.format`).
    pub enum TelemetryFormat {
        /// Parquet by the file's extension, otherwise the text format its content shows.
        #[default]
        Auto = "auto",
        /// `nvidia-smi --query-gpu=... --format=csv` output.
        NvidiaSmi = "nvidia-smi",
        /// `nvidia-smi dmon` output.
        Dmon = "dmon",
        /// DCGM exporter metrics (Prometheus text).
        Dcgm = "dcgm",
        /// Twin's telemetry Parquet (from `twin trace import` or `twin record`).
        Parquet = "parquet",
    }
}

/// A telemetry recording replayed onto a pool: the recording's GPUs, in id
/// order, are the pool's accelerators, node by node.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySpec {
    /// The recording, relative to the scenario file: nvidia-smi CSV, dmon,
    /// DCGM exporter text, or Parquet from `twin trace import` or `twin record`.
    pub file: String,
    /// Its format. Default `"auto"` (Parquet by extension, text by content).
    #[serde(default)]
    pub format: TelemetryFormat,
    /// Who the busy time is billed to (a workload name in reports). Default `"recorded/<pool>"`.
    #[serde(default)]
    pub owner: String,
    /// The team that pays for the busy time. Default `"default"`.
    #[serde(default = "team")]
    pub team: String,
    /// Play the recording this many times faster. Default 1.
    #[serde(default = "one")]
    pub speed: f64,
    /// Loop the recording until the horizon. Default false (after it ends the
    /// accelerators are unobserved and billed idle).
    #[serde(default)]
    pub repeat: bool,
    /// Utilisation (percent) below which an accelerator is idle. Default 5.
    #[serde(default = "idle_below_pct")]
    pub idle_below_pct: f64,
    /// An idle spell at least this long is waste. Default `"30m"`.
    #[serde(default = "secs::<1_800>")]
    pub idle_after: Dur,
}

fn idle_below_pct() -> f64 {
    5.0
}
