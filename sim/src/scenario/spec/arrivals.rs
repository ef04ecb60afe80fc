//! How requests arrive at a service: rate processes and replayed request traces.

use super::defaults::one;
use crate::scenario::duration::Dur;
use serde::{Deserialize, Serialize};

/// How requests arrive. Rates are requests per second.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ArrivalSpec {
    /// No requests at all (`arrivals = "none"`): the replicas hold their
    /// capacity all run (cost, placement, fragmentation) and serve nothing.
    /// What a Kubernetes workload without Twin's load annotations becomes.
    None,
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

named_enum! {
    /// Formats of request traces (`arrivals.trace.format`).
    pub enum RequestTraceFormat {
        /// From the file's extension and header.
        #[default]
        Auto = "auto",
        /// Azure LLM inference 2023 CSV: `TIMESTAMP, ContextTokens, GeneratedTokens`.
        Azure = "azure",
        /// Mooncake JSON lines: `timestamp` in ms, `input_length`, `output_length`.
        Mooncake = "mooncake",
    }
}

/// A request trace as an arrival process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceArrivals {
    /// The trace file, relative to the scenario file.
    pub file: String,
    /// Its format. Default `"auto"` (from the extension and header).
    #[serde(default)]
    pub format: RequestTraceFormat,
    /// Replay this many times faster (2 halves every gap). Default 1.
    #[serde(default = "one")]
    pub speed: f64,
    /// Start the trace again when it ends, for horizons longer than it. Default false.
    #[serde(default)]
    pub repeat: bool,
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
