//! Busy and idle phases of a GPU, found from its telemetry: the shape of a
//! recording (bursts, ramps, idle stretches) and the idle time a fleet pays for.

use crate::{Field, Telemetry};

/// How to tell busy from idle.
#[derive(Clone, Debug)]
pub struct PhaseOptions {
    /// A sample is busy at this GPU utilisation or above, %. Default 25.
    pub busy_util_pct: f64,
    /// Without utilisation: busy above idle power plus this share of the
    /// range between idle and peak power. Default 0.25.
    pub busy_power_share: f64,
    /// Runs shorter than this join their neighbours, ns. Default 1 s.
    pub min_duration_ns: i64,
}

impl Default for PhaseOptions {
    fn default() -> Self {
        PhaseOptions { busy_util_pct: 25.0, busy_power_share: 0.25, min_duration_ns: 1_000_000_000 }
    }
}

/// One phase of a GPU's recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// Whether the GPU was busy.
    pub busy: bool,
    /// First sample's time, ns since the epoch.
    pub start_ns: i64,
    /// The next phase's first sample (or the last sample), ns.
    pub end_ns: i64,
    /// Samples in it.
    pub samples: usize,
    /// Mean utilisation, % (if known).
    pub mean_util_pct: Option<f64>,
    /// Mean power, W (if known).
    pub mean_power_w: Option<f64>,
}

impl Phase {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        (self.end_ns - self.start_ns) as f64 / 1e9
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, s) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| s / n as f64)
}

/// The phases of one GPU, in time order. Empty when it has no utilisation
/// and no power.
pub fn detect(t: &Telemetry, gpu: u32, opts: &PhaseOptions) -> Vec<Phase> {
    let rows = t.rows_of(gpu);
    let (util, power) = (t.values_of(Field::UtilGpu), t.values_of(Field::Power));
    let use_util = rows.iter().any(|&i| util[i].is_some());
    let threshold = if use_util {
        opts.busy_util_pct
    } else {
        let mut p: Vec<f64> = rows.iter().filter_map(|&i| power[i]).collect();
        if p.is_empty() {
            return Vec::new();
        }
        p.sort_by(f64::total_cmp);
        let idle = p[p.len() / 20];
        let peak = p[p.len() - 1 - p.len() / 100];
        idle + opts.busy_power_share * (peak - idle)
    };
    // Samples with the signal, classified.
    let signal: Vec<(usize, bool)> =
        rows.iter().filter_map(|&i| if use_util { util[i] } else { power[i] }.map(|v| (i, v >= threshold))).collect();
    if signal.is_empty() {
        return Vec::new();
    }
    // Runs of equal state: (state, first index into `signal`, count).
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for (k, &(_, busy)) in signal.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.0 == busy => r.2 += 1,
            _ => runs.push((busy, k, 1)),
        }
    }
    let end_of = |runs: &[(bool, usize, usize)], r: usize| {
        let next = runs[r].1 + runs[r].2;
        t.time_ns[signal[next.min(signal.len() - 1)].0]
    };
    // Join short runs to their neighbours, shortest first, until none is left.
    loop {
        let short = (0..runs.len())
            .filter(|&r| runs.len() > 1 && end_of(&runs, r) - t.time_ns[signal[runs[r].1].0] < opts.min_duration_ns)
            .min_by_key(|&r| end_of(&runs, r) - t.time_ns[signal[runs[r].1].0]);
        let Some(r) = short else { break };
        runs[r].0 = !runs[r].0;
        // Merge equal neighbours.
        let mut merged: Vec<(bool, usize, usize)> = Vec::with_capacity(runs.len());
        for run in runs {
            match merged.last_mut() {
                Some(m) if m.0 == run.0 => m.2 += run.2,
                _ => merged.push(run),
            }
        }
        runs = merged;
    }
    (0..runs.len())
        .map(|r| {
            let (busy, first, count) = runs[r];
            let idx = &signal[first..first + count];
            Phase {
                busy,
                start_ns: t.time_ns[idx[0].0],
                end_ns: end_of(&runs, r),
                samples: count,
                mean_util_pct: mean(idx.iter().filter_map(|&(i, _)| util[i])),
                mean_power_w: mean(idx.iter().filter_map(|&(i, _)| power[i])),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    fn series(utils: &[f64]) -> Telemetry {
        let mut t = Telemetry::default();
        for (k, u) in utils.iter().enumerate() {
            let mut s = Sample::new(k as i64 * 100_000_000, 0);
            s.set(Field::UtilGpu, *u);
            s.set(Field::Power, 100.0 + 6.0 * u);
            t.push(s);
        }
        t
    }

    #[test]
    fn finds_bursts_and_ignores_blips() {
        // 3 s idle, 2 s busy with a one-sample dip, 0.2 s blip in 3 s idle, 2 s busy.
        let mut u = vec![0.0; 30];
        u.extend([99.0; 20]);
        u[40] = 0.0;
        u.extend([0.0; 30]);
        u[60] = 99.0;
        u[61] = 99.0;
        u.extend([99.0; 20]);
        let p = detect(&series(&u), 0, &PhaseOptions::default());
        let shape: Vec<(bool, usize)> = p.iter().map(|p| (p.busy, p.samples)).collect();
        assert_eq!(shape, [(false, 30), (true, 20), (false, 30), (true, 20)]);
        assert!((p[1].seconds() - 2.0).abs() < 1e-9);
        // The same from power alone.
        let mut t = series(&u);
        t.values[Field::UtilGpu as usize].iter_mut().for_each(|v| *v = f64::NAN);
        let q = detect(&t, 0, &PhaseOptions::default());
        assert_eq!(q.iter().map(|p| p.busy).collect::<Vec<_>>(), [false, true, false, true]);
    }
}
