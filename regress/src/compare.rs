//! Baseline against candidate: every (scenario, KPI) judged as one family.

use crate::results::{Results, ScenarioResults};
use crate::verdict::{GateError, Judgement, Kpi, Verdict, judge_all};
use serde::Serialize;
use std::collections::BTreeSet;

/// A suite's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The suite's name.
    pub suite: String,
    /// The family-wise error rate the verdicts hold at.
    pub alpha: f64,
    /// Pairs per KPI (the seeds).
    pub seeds: usize,
    /// One per (scenario, KPI) judged, in suite order then KPI order.
    pub rows: Vec<Row>,
    /// Cost per month by team, per scenario: medians over the seeds.
    pub teams: Vec<TeamRow>,
    /// The billing currency of each scenario, by scenario name, in suite order.
    pub currencies: Vec<(String, String)>,
    /// What could not be compared and why (a scenario new in the candidate,
    /// a KPI one side does not measure), one line each.
    pub notes: Vec<String>,
}

/// One KPI of one scenario, judged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The scenario.
    pub scenario: String,
    /// The KPI as the suite states it.
    pub kpi: Kpi,
    /// The verdict with its statistics.
    pub judgement: Judgement,
}

/// A team in one scenario, before and after: medians over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamRow {
    /// The scenario.
    pub scenario: String,
    /// The team.
    pub team: String,
    /// The baseline's median cost per 30 days.
    pub before: f64,
    /// The candidate's median cost per 30 days.
    pub after: f64,
    /// SLO attainment of the team's served workloads (baseline, candidate), when both measure it.
    pub slo: Option<(f64, f64)>,
    /// The worst P99 TTFT of the team's served workloads, ms (baseline, candidate).
    pub ttft_p99_ms: Option<(f64, f64)>,
    /// The team's verdict: the worst of its cost, SLO and P99 judged as the
    /// suite's KPIs are (seed by seed, one Holm family over every team of
    /// the suite), for reading only: the gate is the suite's rows.
    pub verdict: Verdict,
}

impl Comparison {
    /// Whether the gate passes: no regression and no KPI past its limit.
    pub fn passed(&self) -> bool {
        !self.rows.iter().any(|r| r.judgement.verdict.fails())
    }

    /// Rows with this verdict.
    pub fn with(&self, v: Verdict) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.judgement.verdict == v)
    }

    /// The scenarios compared, in suite order.
    pub fn scenarios(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.rows.iter().map(|r| r.scenario.as_str()).filter(|s| seen.insert(*s)).collect()
    }

    /// A scenario's rows.
    pub fn rows_of<'a>(&'a self, scenario: &'a str) -> impl Iterator<Item = &'a Row> {
        self.rows.iter().filter(move |r| r.scenario == scenario)
    }

    /// A scenario's billing currency (`USD` when unknown).
    pub fn currency_of(&self, scenario: &str) -> &str {
        self.currencies.iter().find(|(s, _)| s == scenario).map_or("USD", |(_, c)| c.as_str())
    }
}

/// Why two sets of results cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The two sides ran different seeds.
    #[error(
        "the baseline ran seed set {base_set} ({base_n} seeds) and the candidate seed set {cand_set} ({cand_n} seeds); runs pair seed by seed, so both sides must run the suite's seeds (write the baseline again with this suite)"
    )]
    Seeds {
        /// The baseline's seed set.
        base_set: u32,
        /// Its seed count.
        base_n: usize,
        /// The candidate's.
        cand_set: u32,
        /// Its seed count.
        cand_n: usize,
    },
    /// A KPI cannot be judged.
    #[error("{scenario}: {source}")]
    Gate {
        /// The scenario.
        scenario: String,
        /// Why.
        source: GateError,
    },
    /// Nothing in common.
    #[error("the baseline and the candidate share no scenario: nothing to compare (baseline: {base}; candidate: {cand})")]
    Disjoint {
        /// The baseline's scenarios.
        base: String,
        /// The candidate's.
        cand: String,
    },
}

fn median(v: Vec<f64>) -> f64 {
    if v.is_empty() { 0.0 } else { crate::verdict::median(&v) }
}

/// Judges `candidate` against `baseline` on `kpis`, pairing runs seed by
/// seed, every (scenario, KPI) in one Holm-Bonferroni family at `alpha`.
pub fn compare(suite: &str, kpis: &[Kpi], baseline: &Results, candidate: &Results, alpha: f64) -> Result<Comparison, CompareError> {
    if baseline.seeds != candidate.seeds {
        return Err(CompareError::Seeds {
            base_set: baseline.seed_set,
            base_n: baseline.seeds.len(),
            cand_set: candidate.seed_set,
            cand_n: candidate.seeds.len(),
        });
    }
    let mut notes = Vec::new();
    let mut items: Vec<(String, &Kpi, Vec<f64>, Vec<f64>)> = Vec::new();
    let mut teams: Vec<TeamRow> = Vec::new();
    let mut team_items: Vec<(usize, Kpi, Vec<f64>, Vec<f64>)> = Vec::new();
    let mut currencies = Vec::new();
    for cand in &candidate.scenarios {
        let Some(base) = baseline.scenario(&cand.name) else {
            notes.push(format!("{}: new in the candidate, no baseline to compare with", cand.name));
            continue;
        };
        currencies.push((cand.name.clone(), cand.currency.clone()));
        if base.horizon_s != cand.horizon_s {
            notes.push(format!(
                "{}: the baseline simulated {} s and the candidate {} s; costs are per month, but counts (drops, preemptions) are not comparable",
                cand.name, base.horizon_s, cand.horizon_s
            ));
        }
        for kpi in kpis {
            let take = |r: &ScenarioResults| -> Vec<Option<f64>> { r.runs.iter().map(|run| run.kpis.get(&kpi.name).copied()).collect() };
            let (b, c) = (take(base), take(cand));
            let measured = |v: &[Option<f64>]| v.iter().filter(|x| x.is_some()).count();
            let (nb, nc, n) = (measured(&b), measured(&c), b.len());
            if nb == n && nc == n {
                items.push((cand.name.clone(), kpi, b.into_iter().flatten().collect(), c.into_iter().flatten().collect()));
            } else if nb + nc > 0 {
                notes.push(format!(
                    "{}: {} not judged: measured in {nb} of {n} baseline runs and {nc} of {n} candidate runs (a latency with no request finished, say)",
                    cand.name, kpi.name
                ));
            }
        }
        let names: BTreeSet<&String> = base.runs.iter().chain(&cand.runs).flat_map(|r| r.team_cost_per_month.keys()).collect();
        for team in names {
            let cost = |r: &ScenarioResults| -> Vec<f64> {
                r.runs.iter().map(|run| run.team_cost_per_month.get(team).copied().unwrap_or(0.0)).collect()
            };
            let slo =
                |r: &ScenarioResults| -> Option<Vec<f64>> { r.runs.iter().map(|run| run.team_slo_attainment.get(team).copied()).collect() };
            let p99 =
                |r: &ScenarioResults| -> Option<Vec<f64>> { r.runs.iter().map(|run| run.team_ttft_p99_ms.get(team).copied()).collect() };
            let row = teams.len();
            let mut both = |name: &str, b: Option<Vec<f64>>, c: Option<Vec<f64>>| -> Option<(f64, f64)> {
                let (b, c) = (b?, c?);
                let medians = (median(b.clone()), median(c.clone()));
                if let Some(k) = kpis.iter().find(|k| k.name == name) {
                    team_items.push((row, Kpi { floor: None, ..k.clone() }, b, c));
                }
                Some(medians)
            };
            let (cost_b, cost_a) = both("cost_per_month", Some(cost(base)), Some(cost(cand))).unwrap_or_default();
            let slo = both("slo_attainment", slo(base), slo(cand));
            let ttft_p99_ms = both("ttft_p99_ms", p99(base), p99(cand));
            teams.push(TeamRow {
                scenario: cand.name.clone(),
                team: team.clone(),
                before: cost_b,
                after: cost_a,
                slo,
                ttft_p99_ms,
                verdict: Verdict::Same,
            });
        }
    }
    for base in &baseline.scenarios {
        if candidate.scenario(&base.name).is_none() {
            notes.push(format!("{}: in the baseline only, no longer run", base.name));
        }
    }
    if items.is_empty() && currencies.is_empty() {
        let names = |r: &Results| r.scenarios.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(CompareError::Disjoint { base: names(baseline), cand: names(candidate) });
    }
    let family: Vec<(&Kpi, &[f64], &[f64])> = items.iter().map(|(_, k, b, c)| (*k, b.as_slice(), c.as_slice())).collect();
    let judged = judge_all(&family, alpha).map_err(|source| {
        // Name the scenario of the KPI that failed.
        let scenario = match &source {
            GateError::Unpaired { kpi, .. } | GateError::Empty { kpi } | GateError::NotFinite { kpi, .. } => {
                items.iter().find(|(_, k, _, _)| &k.name == kpi).map_or_else(String::new, |(s, _, _, _)| s.clone())
            }
        };
        CompareError::Gate { scenario, source }
    })?;
    let rows =
        items.iter().zip(judged).map(|((s, k, _, _), judgement)| Row { scenario: s.clone(), kpi: (*k).clone(), judgement }).collect();
    // Teams: their own family, so that reading them never loosens the gate's.
    let family: Vec<(&Kpi, &[f64], &[f64])> = team_items.iter().map(|(_, k, b, c)| (k, b.as_slice(), c.as_slice())).collect();
    if let Ok(judged) = judge_all(&family, alpha) {
        for ((row, _, _, _), j) in team_items.iter().zip(judged) {
            let t = &mut teams[*row];
            t.verdict = match (t.verdict, j.verdict) {
                (Verdict::Regression, _) | (_, Verdict::Regression) => Verdict::Regression,
                (Verdict::Improvement, _) | (_, Verdict::Improvement) => Verdict::Improvement,
                _ => Verdict::Same,
            };
        }
    }
    Ok(Comparison { suite: suite.to_string(), alpha, seeds: candidate.seeds.len(), rows, teams, currencies, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{RESULTS_FORMAT, RunResult, ScenarioResults};
    use crate::verdict::Direction;

    fn results(cost: impl Fn(usize) -> f64) -> Results {
        let seeds: Vec<u64> = (1..=20).collect();
        Results {
            format_version: RESULTS_FORMAT,
            twin_version: "t".into(),
            suite: "s".into(),
            seed_set: 1,
            seeds: seeds.clone(),
            scenarios: vec![ScenarioResults {
                name: "a".into(),
                inputs_sha256: String::new(),
                horizon_s: 1.0,
                currency: "EUR".into(),
                runs: seeds
                    .iter()
                    .enumerate()
                    .map(|(i, &seed)| RunResult {
                        seed,
                        kpis: [("cost_per_month".to_string(), cost(i))].into(),
                        team_cost_per_month: [("ml".to_string(), cost(i))].into(),
                        ..Default::default()
                    })
                    .collect(),
            }],
        }
    }

    fn kpis() -> Vec<Kpi> {
        vec![
            Kpi { name: "cost_per_month".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 },
            Kpi { name: "drops".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 },
        ]
    }

    #[test]
    fn a_costlier_candidate_fails_and_an_identical_one_passes() {
        let base = results(|i| 1000.0 + 10.0 * (i as f64).sin());
        let worse = results(|i| 1100.0 + 10.0 * (i as f64).sin() + (i % 3) as f64);
        let c = compare("s", &kpis(), &base, &worse, 0.05).unwrap();
        assert!(!c.passed());
        assert_eq!(c.rows.len(), 1, "drops is measured by neither side");
        assert_eq!(c.rows[0].judgement.verdict, Verdict::Regression);
        assert_eq!(c.teams[0].team, "ml");
        assert!(c.teams[0].after > c.teams[0].before);
        assert_eq!(c.teams[0].verdict, Verdict::Regression, "the team's cost is judged too");
        assert_eq!(c.currency_of("a"), "EUR");
        let same = compare("s", &kpis(), &base, &base, 0.05).unwrap();
        assert!(same.passed());
        assert_eq!(same.rows[0].judgement.verdict, Verdict::Same);
    }

    #[test]
    fn other_seeds_are_refused() {
        let base = results(|_| 1.0);
        let mut cand = results(|_| 1.0);
        cand.seeds.pop();
        assert!(matches!(compare("s", &kpis(), &base, &cand, 0.05), Err(CompareError::Seeds { .. })));
    }
}
