//! Canonical telemetry from per-GPU usage columns: what `twin trace synth`
//! writes and benchmarks build their recordings from.

use crate::{Field, Sample, Telemetry};

/// Per-GPU columns of utilisation and power (NaN where absent): group `k`
/// is GPU `gpus[k]`, rows `offsets[k]..offsets[k + 1]`, times in ns from `epoch_ns`.
#[derive(Clone, Copy, Debug)]
pub struct UsageColumns<'a> {
    /// GPU id of each group.
    pub gpus: &'a [u32],
    /// Group bounds, one more than `gpus`.
    pub offsets: &'a [usize],
    /// Sample times, ns from `epoch_ns`.
    pub time_ns: &'a [i64],
    /// Utilisation, percent.
    pub util_pct: &'a [f32],
    /// Power, W.
    pub power_w: &'a [f32],
    /// Unix time of offset zero, ns.
    pub epoch_ns: i64,
}

impl Telemetry {
    /// Canonical telemetry of `u` in time order (GPU order within a time),
    /// every GPU named `name`.
    pub fn from_usage(u: UsageColumns<'_>, name: &str) -> Telemetry {
        let mut rows: Vec<(i64, u32, usize)> = Vec::with_capacity(u.time_ns.len());
        for (k, &g) in u.gpus.iter().enumerate() {
            for i in u.offsets[k]..u.offsets[k + 1] {
                rows.push((u.time_ns[i], g, i));
            }
        }
        rows.sort_unstable();
        let mut t = Telemetry::default();
        t.reserve(rows.len());
        for (time, g, i) in rows {
            let mut s = Sample::new(u.epoch_ns + time, g);
            for (f, v) in [(Field::UtilGpu, u.util_pct[i]), (Field::Power, u.power_w[i])] {
                if !v.is_nan() {
                    s.set(f, f64::from(v));
                }
            }
            if !t.names.contains_key(&g) {
                s.gpu_name = Some(name.to_string());
            }
            t.push(s);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_columns_become_time_ordered_rows() {
        let u = UsageColumns {
            gpus: &[3, 7],
            offsets: &[0, 2, 3],
            time_ns: &[0, 100, 50],
            util_pct: &[10.0, f32::NAN, 90.0],
            power_w: &[100.0, 110.0, 600.0],
            epoch_ns: 1_000,
        };
        let t = Telemetry::from_usage(u, "H100");
        assert_eq!(t.time_ns, vec![1_000, 1_050, 1_100]);
        assert_eq!(t.gpu, vec![3, 7, 3]);
        assert_eq!(t.values_of(Field::UtilGpu), [Some(10.0), Some(90.0), None]);
        assert_eq!(t.names.get(&7).map(String::as_str), Some("H100"));
    }
}
