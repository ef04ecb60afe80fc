//! Energy from power samples: the trapezoid rule per GPU, and the driver's
//! own energy counter where the source has one.

use crate::{Field, Telemetry};

/// One GPU's energy over a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuEnergy {
    /// The GPU.
    pub gpu: u32,
    /// ∫ power dt by the trapezoid rule over consecutive samples with power, J.
    pub joules: f64,
    /// Seconds covered by those intervals.
    pub seconds: f64,
    /// Mean power over them, W.
    pub mean_watts: f64,
    /// The difference of the energy counter between its first and last reading, J, if present.
    pub counter_joules: Option<f64>,
}

impl GpuEnergy {
    /// kWh.
    pub fn kwh(&self) -> f64 {
        self.joules / 3.6e6
    }
}

/// Energy per GPU, ascending by GPU. Intervals between two samples that
/// both have power are integrated; a sample without power breaks the chain.
pub fn by_gpu(t: &Telemetry) -> Vec<GpuEnergy> {
    let power = t.values_of(Field::Power);
    let counter = t.values_of(Field::Energy);
    t.gpus()
        .into_iter()
        .map(|gpu| {
            let rows = t.rows_of(gpu);
            let (mut joules, mut seconds) = (0.0, 0.0);
            for w in rows.windows(2) {
                if let (Some(a), Some(b)) = (power[w[0]], power[w[1]]) {
                    let dt = (t.time_ns[w[1]] - t.time_ns[w[0]]) as f64 / 1e9;
                    joules += 0.5 * (a + b) * dt;
                    seconds += dt;
                }
            }
            let readings: Vec<f64> = rows.iter().filter_map(|&i| counter[i]).collect();
            let counter_joules = match (readings.first(), readings.last()) {
                (Some(a), Some(b)) if readings.len() > 1 => Some(b - a),
                _ => None,
            };
            GpuEnergy { gpu, joules, seconds, mean_watts: if seconds > 0.0 { joules / seconds } else { 0.0 }, counter_joules }
        })
        .collect()
}
