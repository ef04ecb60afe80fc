//! Per-point statistics over replicas: cost quantiles, SLO attainment and
//! the chance of missing it, spot savings, interruptions; and the cheapest
//! point that meets the SLO with the asked probability.

use crate::model::Outcome;

/// What one grid point's replicas came to.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSummary {
    /// The point's values, one per axis.
    pub values: Vec<f64>,
    /// Replicas run.
    pub replicas: u64,
    /// Mean cost over the horizon.
    pub cost_mean: f64,
    /// 5th percentile of cost.
    pub cost_p5: f64,
    /// Median cost.
    pub cost_p50: f64,
    /// 95th percentile of cost.
    pub cost_p95: f64,
    /// 2.5th and 97.5th percentiles of cost: the 95% band.
    pub cost_band: (f64, f64),
    /// Mean SLO attainment.
    pub attainment_mean: f64,
    /// 5th percentile of attainment (a bad case).
    pub attainment_p5: f64,
    /// 2.5th and 97.5th percentiles of attainment: the 95% band.
    pub attainment_band: (f64, f64),
    /// Share of replicas whose attainment is below the target.
    pub p_miss_slo: f64,
    /// Mean saving against the same node-hours at the on-demand price.
    pub spot_savings_mean: f64,
    /// Mean spot reclaims.
    pub interruptions_mean: f64,
    /// Mean share of requests dropped.
    pub dropped_share: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Summarises one point's outcomes against an SLO `target`, with on-demand
/// price `od_price` per node-hour for the savings.
pub fn summarise(values: Vec<f64>, outcomes: &[Outcome], target: f64, od_price: f64) -> PointSummary {
    let n = outcomes.len().max(1) as f64;
    let mut cost: Vec<f64> = outcomes.iter().map(|o| f64::from(o.cost)).collect();
    let mut att: Vec<f64> = outcomes.iter().map(|o| f64::from(o.attainment())).collect();
    cost.sort_by(f64::total_cmp);
    att.sort_by(f64::total_cmp);
    let savings: f64 =
        outcomes.iter().map(|o| (f64::from(o.spot_node_hours) + f64::from(o.od_node_hours)) * od_price - f64::from(o.cost)).sum();
    let arrived: f64 = outcomes.iter().map(|o| f64::from(o.arrived)).sum();
    let dropped: f64 = outcomes.iter().map(|o| f64::from(o.dropped)).sum();
    PointSummary {
        values,
        replicas: outcomes.len() as u64,
        cost_mean: cost.iter().sum::<f64>() / n,
        cost_p5: quantile(&cost, 0.05),
        cost_p50: quantile(&cost, 0.5),
        cost_p95: quantile(&cost, 0.95),
        cost_band: (quantile(&cost, 0.025), quantile(&cost, 0.975)),
        attainment_mean: att.iter().sum::<f64>() / n,
        attainment_p5: quantile(&att, 0.05),
        attainment_band: (quantile(&att, 0.025), quantile(&att, 0.975)),
        p_miss_slo: att.iter().filter(|a| **a < target).count() as f64 / n,
        spot_savings_mean: savings / n,
        interruptions_mean: outcomes.iter().map(|o| f64::from(o.interruptions)).sum::<f64>() / n,
        dropped_share: if arrived > 0.0 { dropped / arrived } else { 0.0 },
    }
}

/// The point with the lowest mean cost among those that miss the SLO with
/// probability at most `1 − confidence`.
pub fn cheapest(points: &[PointSummary], confidence: f64) -> Option<&PointSummary> {
    points.iter().filter(|p| p.p_miss_slo <= 1.0 - confidence + 1e-12).min_by(|a, b| a.cost_mean.total_cmp(&b.cost_mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(cost: f32, met: f32) -> Outcome {
        Outcome { cost, list_cost: cost * 2.0, arrived: 100.0, met, od_node_hours: cost / 10.0, ..Default::default() }
    }

    #[test]
    fn quantiles_misses_and_the_cheapest_safe_point() {
        let outcomes: Vec<Outcome> = (0..101).map(|i| o(i as f32, if i < 10 { 90.0 } else { 100.0 })).collect();
        let s = summarise(vec![0.5], &outcomes, 0.99, 10.0);
        assert_eq!((s.cost_p5, s.cost_p50, s.cost_p95), (5.0, 50.0, 95.0));
        assert!((s.p_miss_slo - 10.0 / 101.0).abs() < 1e-12);
        assert!(s.spot_savings_mean.abs() < 1e-4);
        let cheap = PointSummary { cost_mean: 1.0, p_miss_slo: 0.5, ..s.clone() };
        let safe = PointSummary { cost_mean: 60.0, p_miss_slo: 0.0, ..s.clone() };
        let all = [cheap, s.clone(), safe.clone()];
        assert_eq!(cheapest(&all, 0.95).map(|p| p.cost_mean), Some(60.0));
        assert_eq!(cheapest(&all, 0.85).map(|p| p.cost_mean), Some(s.cost_mean));
    }
}
