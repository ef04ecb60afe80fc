//! Per-point statistics over replicas: cost quantiles, SLO attainment and
//! the chance of missing it, spot savings, interruptions; and the cheapest
//! point that meets the SLO with the asked probability.

use crate::tally::Tally;

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
    /// Mean spot node-hours.
    pub spot_node_hours_mean: f64,
    /// Mean on-demand (fallback) node-hours.
    pub od_node_hours_mean: f64,
}

/// Summarises one point's tally, with on-demand price `od_price` per
/// node-hour for the savings. Quantiles come from the tally's histograms
/// (within one bin of the exact order statistics; see [`crate::tally`]).
pub fn summarise(values: Vec<f64>, t: &Tally, od_price: f64) -> PointSummary {
    let n = t.n.max(1) as f64;
    let [cost, _list, arrived, _met, dropped, interruptions, spot_h, od_h] = t.sums.map(|s| s.get());
    PointSummary {
        values,
        replicas: t.n,
        cost_mean: cost / n,
        cost_p5: t.cost.quantile(0.05),
        cost_p50: t.cost.quantile(0.5),
        cost_p95: t.cost.quantile(0.95),
        cost_band: (t.cost.quantile(0.025), t.cost.quantile(0.975)),
        attainment_mean: t.attainment_sum.get() / n,
        attainment_p5: t.attainment.quantile(0.05),
        attainment_band: (t.attainment.quantile(0.025), t.attainment.quantile(0.975)),
        p_miss_slo: t.misses as f64 / n,
        spot_savings_mean: ((spot_h + od_h) * od_price - cost) / n,
        interruptions_mean: interruptions / n,
        dropped_share: if arrived > 0.0 { dropped / arrived } else { 0.0 },
        spot_node_hours_mean: spot_h / n,
        od_node_hours_mean: od_h / n,
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

    use crate::model::Outcome;

    fn o(cost: f32, met: f32) -> Outcome {
        Outcome { cost, list_cost: cost * 2.0, arrived: 100.0, met, od_node_hours: cost / 10.0, ..Default::default() }
    }

    #[test]
    fn quantiles_misses_and_the_cheapest_safe_point() {
        let outcomes: Vec<Outcome> = (0..101).map(|i| o(i as f32, if i < 10 { 90.0 } else { 100.0 })).collect();
        let mut t = Tally::from_pilot(&outcomes, 0.99);
        outcomes.iter().for_each(|o| t.add(o));
        let s = summarise(vec![0.5], &t, 10.0);
        // Within a bin (the pilot's span 100 × 2 / 1024) of the exact 5, 50, 95.
        for (got, want) in [(s.cost_p5, 5.0), (s.cost_p50, 50.0), (s.cost_p95, 95.0)] {
            assert!((got - want).abs() <= 200.0 / 1024.0, "{got} against {want}");
        }
        assert!((s.p_miss_slo - 10.0 / 101.0).abs() < 1e-12);
        assert!(s.spot_savings_mean.abs() < 1e-4);
        let cheap = PointSummary { cost_mean: 1.0, p_miss_slo: 0.5, ..s.clone() };
        let safe = PointSummary { cost_mean: 60.0, p_miss_slo: 0.0, ..s.clone() };
        let all = [cheap, s.clone(), safe.clone()];
        assert_eq!(cheapest(&all, 0.95).map(|p| p.cost_mean), Some(60.0));
        assert_eq!(cheapest(&all, 0.85).map(|p| p.cost_mean), Some(s.cost_mean));
    }
}
