//! A KPI's verdict: regression, improvement or `~`, from paired runs.

use crate::holm;
use crate::wilcoxon::{Shift, hodges_lehmann, signed_rank_p};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Cost, latency, drops, preemptions.
    LowerIsBetter,
    /// SLO attainment, allocation.
    HigherIsBetter,
}

/// A KPI as a suite states it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// Its name (`cost`, `slo_attainment`, ...).
    pub name: String,
    /// Which way is better.
    pub direction: Direction,
    /// The practical threshold, relative to the baseline's median (0.01:
    /// a change under 1% does not matter, however significant).
    pub threshold: f64,
    /// An absolute limit on the candidate's median: a ceiling when lower is
    /// better, a floor when higher is better.
    pub floor: Option<f64>,
    /// The smallest change that matters in the KPI's own unit: the band is
    /// the larger of this and `threshold` × the baseline's median.
    #[serde(default)]
    pub min_change: f64,
}

/// What the gate says of one KPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Significantly worse, and the whole interval beyond the threshold.
    Regression,
    /// Significantly better, and the whole interval beyond the threshold.
    Improvement,
    /// No difference that matters: `~`.
    Same,
    /// The candidate's median is past the KPI's absolute limit.
    PastLimit,
}

impl Verdict {
    /// Whether the gate fails on it.
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regression | Verdict::PastLimit)
    }
}

/// Why a KPI cannot be judged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GateError {
    /// Baseline and candidate must be paired seed by seed.
    #[error("{kpi}: {base} baseline runs and {candidate} candidate runs; the runs are paired seed by seed, so give both the same seeds")]
    Unpaired {
        /// The KPI.
        kpi: String,
        /// Baseline runs.
        base: usize,
        /// Candidate runs.
        candidate: usize,
    },
    /// Nothing to compare.
    #[error("{kpi}: no runs to compare")]
    Empty {
        /// The KPI.
        kpi: String,
    },
    /// A value that is not a number.
    #[error("{kpi}: run {run} has a value that is not a finite number ({value}); a KPI must be measured in every run")]
    NotFinite {
        /// The KPI.
        kpi: String,
        /// Which run (0-based).
        run: usize,
        /// The value.
        value: f64,
    },
}

/// One KPI judged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    /// The KPI.
    pub kpi: String,
    /// Pairs compared.
    pub n: usize,
    /// The baseline's median.
    pub base_median: f64,
    /// The candidate's median.
    pub candidate_median: f64,
    /// The median paired difference (candidate − baseline) and its interval.
    pub shift: (f64, f64, f64),
    /// The signed-rank p-value.
    pub p: f64,
    /// The same, Holm-adjusted across the family judged together.
    pub p_adjusted: f64,
    /// The verdict.
    pub verdict: Verdict,
}

impl Judgement {
    /// The shift relative to the baseline's median (NaN when that is 0).
    pub fn relative(&self) -> f64 {
        self.shift.0 / self.base_median.abs()
    }
}

impl fmt::Display for Judgement {
    /// benchstat's cell: `+5.12% (p=0.000 n=20)`, or `~ (p=0.446 n=20)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict {
            Verdict::Same => write!(f, "~ (p={:.3} n={})", self.p_adjusted, self.n),
            _ => {
                let r = self.relative();
                if r.is_finite() {
                    write!(f, "{:+.2}% (p={:.3} n={})", 100.0 * r, self.p_adjusted, self.n)?;
                } else {
                    write!(f, "{:+.4} (p={:.3} n={})", self.shift.0, self.p_adjusted, self.n)?;
                }
                if self.verdict == Verdict::PastLimit { write!(f, " past the limit") } else { Ok(()) }
            }
        }
    }
}

/// The median of `x` (the mean of the middle two for an even count; NaN when empty).
pub fn median(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn check(kpi: &Kpi, base: &[f64], cand: &[f64]) -> Result<Vec<f64>, GateError> {
    if base.len() != cand.len() {
        return Err(GateError::Unpaired { kpi: kpi.name.clone(), base: base.len(), candidate: cand.len() });
    }
    if base.is_empty() {
        return Err(GateError::Empty { kpi: kpi.name.clone() });
    }
    for (run, v) in base.iter().chain(cand).enumerate() {
        if !v.is_finite() {
            return Err(GateError::NotFinite { kpi: kpi.name.clone(), run: run % base.len(), value: *v });
        }
    }
    Ok(cand.iter().zip(base).map(|(c, b)| c - b).collect())
}

/// Judges every KPI of a family together (a suite's KPIs across its
/// scenarios): p-values Holm-adjusted across the family, intervals at
/// confidence 1 − alpha/m (Bonferroni, so an interval is no narrower than
/// the family's error rate allows). Each item is (KPI, baseline runs,
/// candidate runs), runs in seed order.
pub fn judge_all(items: &[(&Kpi, &[f64], &[f64])], alpha: f64) -> Result<Vec<Judgement>, GateError> {
    let diffs = items.iter().map(|(k, b, c)| check(k, b, c)).collect::<Result<Vec<_>, _>>()?;
    let p: Vec<f64> = diffs.iter().map(|d| signed_rank_p(d)).collect();
    let adjusted = holm::adjust(&p);
    let m = items.len().max(1) as f64;
    let confidence = 1.0 - alpha / m;
    Ok(items
        .iter()
        .zip(&diffs)
        .zip(p.iter().zip(&adjusted))
        .map(|(((kpi, base, cand), d), (&p, &p_adjusted))| {
            let shift = hodges_lehmann(d, confidence).unwrap_or(Shift { estimate: 0.0, low: 0.0, high: 0.0 });
            let (base_median, candidate_median) = (median(base), median(cand));
            let band = (kpi.threshold.abs() * base_median.abs()).max(kpi.min_change.abs());
            // "Worse" as a signed shift: positive is worse.
            let worse = |x: f64| match kpi.direction {
                Direction::LowerIsBetter => x,
                Direction::HigherIsBetter => -x,
            };
            let (lo, hi) = {
                let (a, b) = (worse(shift.low), worse(shift.high));
                (a.min(b), a.max(b))
            };
            let significant = p_adjusted < alpha;
            let past_limit = kpi.floor.is_some_and(|f| match kpi.direction {
                Direction::LowerIsBetter => candidate_median > f,
                Direction::HigherIsBetter => candidate_median < f,
            });
            let verdict = if past_limit {
                Verdict::PastLimit
            } else if significant && lo > band {
                Verdict::Regression
            } else if significant && hi < -band {
                Verdict::Improvement
            } else {
                Verdict::Same
            };
            Judgement {
                kpi: kpi.name.clone(),
                n: d.len(),
                base_median,
                candidate_median,
                shift: (shift.estimate, shift.low, shift.high),
                p,
                p_adjusted,
                verdict,
            }
        })
        .collect())
}

/// Judges one KPI alone.
pub fn judge(kpi: &Kpi, base: &[f64], candidate: &[f64], alpha: f64) -> Result<Judgement, GateError> {
    judge_all(&[(kpi, base, candidate)], alpha).map(|mut v| v.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn cost() -> Kpi {
        Kpi { name: "cost".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 }
    }

    fn runs(rng: &mut Xoshiro256PlusPlus, n: usize, mean: f64, sd: f64) -> Vec<f64> {
        let d = Normal::new(mean, sd).unwrap();
        (0..n).map(|_| d.sample(rng)).collect()
    }

    #[test]
    fn identical_candidates_are_the_same_everywhere() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let base = runs(&mut rng, 20, 1000.0, 30.0);
        let j = judge(&cost(), &base, &base, 0.05).unwrap();
        assert_eq!(j.verdict, Verdict::Same);
        assert_eq!(j.p, 1.0);
        assert_eq!(j.to_string(), "~ (p=1.000 n=20)");
    }

    #[test]
    fn a_worse_candidate_is_caught_and_a_better_one_credited() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let base = runs(&mut rng, 20, 1000.0, 30.0);
        // Paired: the same seeds give nearly the same run, plus the change.
        let noise = runs(&mut rng, 20, 0.0, 2.0);
        let worse: Vec<f64> = base.iter().zip(&noise).map(|(b, e)| b * 1.05 + e).collect();
        let j = judge(&cost(), &base, &worse, 0.05).unwrap();
        assert_eq!(j.verdict, Verdict::Regression, "{j:?}");
        assert!(j.to_string().starts_with("+5."), "{j}");
        let better: Vec<f64> = base.iter().zip(&noise).map(|(b, e)| b * 0.95 + e).collect();
        assert_eq!(judge(&cost(), &base, &better, 0.05).unwrap().verdict, Verdict::Improvement);
        // Significant but inside the practical threshold: not a regression.
        let tiny: Vec<f64> = base.iter().zip(&noise).map(|(b, e)| b * 1.002 + e.abs() * 0.01 + 0.1).collect();
        let j = judge(&cost(), &base, &tiny, 0.05).unwrap();
        assert!(j.p < 0.05);
        assert_eq!(j.verdict, Verdict::Same, "{j:?}");
        // Higher is better: a drop in attainment is the regression.
        let slo = Kpi { name: "slo".into(), direction: Direction::HigherIsBetter, threshold: 0.001, floor: Some(0.99), min_change: 0.0 };
        let base = vec![0.995; 20];
        let cand: Vec<f64> = (0..20).map(|i| 0.985 - f64::from(i) * 1e-4).collect();
        assert_eq!(judge(&slo, &base, &cand, 0.05).unwrap().verdict, Verdict::PastLimit);
        let slo = Kpi { floor: None, ..slo };
        assert_eq!(judge(&slo, &base, &cand, 0.05).unwrap().verdict, Verdict::Regression);
    }

    #[test]
    fn a_a_comparisons_flag_at_most_alpha() {
        // Disjoint seeds, same system: any flag is a false alarm. With the
        // practical threshold at 0, this is the test's own error rate.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let kpi = Kpi { threshold: 0.0, ..cost() };
        let trials = 2000;
        let mut flagged = 0;
        for _ in 0..trials {
            let a = runs(&mut rng, 20, 1000.0, 30.0);
            let b = runs(&mut rng, 20, 1000.0, 30.0);
            if judge(&kpi, &a, &b, 0.05).unwrap().verdict != Verdict::Same {
                flagged += 1;
            }
        }
        let rate = f64::from(flagged) / f64::from(trials);
        // At most alpha, give or take three standard errors of the estimate.
        let se = (0.05f64 * 0.95 / f64::from(trials)).sqrt();
        assert!(rate <= 0.05 + 3.0 * se, "{flagged} of {trials} A/A comparisons flagged ({rate})");
        assert!(rate > 0.02, "an exact test at 0.05 should use most of its size: {rate}");
        // With the practical threshold (1% of the baseline), noise alone almost never passes.
        let mut flagged = 0;
        for _ in 0..trials {
            let a = runs(&mut rng, 20, 1000.0, 30.0);
            let b = runs(&mut rng, 20, 1000.0, 30.0);
            if judge(&cost(), &a, &b, 0.05).unwrap().verdict != Verdict::Same {
                flagged += 1;
            }
        }
        assert!(f64::from(flagged) / f64::from(trials) <= 0.01, "{flagged} of {trials} flagged with a 1% threshold");
    }

    #[test]
    fn holm_guards_a_family() {
        // Ten KPIs, none changed: together they flag no more often than one would.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let kpis: Vec<Kpi> = (0..10).map(|i| Kpi { name: format!("k{i}"), threshold: 0.0, ..cost() }).collect();
        let trials = 300;
        let mut any = 0;
        for _ in 0..trials {
            let runs: Vec<(Vec<f64>, Vec<f64>)> =
                kpis.iter().map(|_| (runs(&mut rng, 20, 10.0, 1.0), runs(&mut rng, 20, 10.0, 1.0))).collect();
            let items: Vec<(&Kpi, &[f64], &[f64])> = kpis.iter().zip(&runs).map(|(k, (a, b))| (k, a.as_slice(), b.as_slice())).collect();
            if judge_all(&items, 0.05).unwrap().iter().any(|j| j.verdict != Verdict::Same) {
                any += 1;
            }
        }
        assert!(f64::from(any) / f64::from(trials) <= 0.06, "{any} of {trials} families flagged");
    }

    #[test]
    fn bad_input_is_named() {
        let e = judge(&cost(), &[1.0, 2.0], &[1.0], 0.05).unwrap_err();
        assert!(e.to_string().contains("paired seed by seed"), "{e}");
        let e = judge(&cost(), &[1.0, f64::NAN], &[1.0, 2.0], 0.05).unwrap_err();
        assert!(e.to_string().contains("run 1"), "{e}");
        assert!(judge(&cost(), &[], &[], 0.05).is_err());
    }

    #[test]
    fn a_zero_baseline_has_a_band_only_with_min_change() {
        let drops = Kpi { name: "drops".into(), direction: Direction::LowerIsBetter, threshold: 0.05, floor: None, min_change: 0.0 };
        let base = vec![0.0; 20];
        let cand: Vec<f64> = (0..20).map(|i| f64::from(1 + i % 3)).collect();
        assert_eq!(judge(&drops, &base, &cand, 0.05).unwrap().verdict, Verdict::Regression);
        let tolerant = Kpi { min_change: 10.0, ..drops };
        assert_eq!(judge(&tolerant, &base, &cand, 0.05).unwrap().verdict, Verdict::Same);
    }
}
