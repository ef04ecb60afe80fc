//! A [`Comparison`] rendered three ways: for a terminal, for a CI system and
//! for a pull request.
//!
//! - [`table::render`]: a benchstat-like table per scenario, for stdout.
//! - [`junit::render`]: JUnit XML, one `<testsuite>` per scenario and one
//!   `<testcase>` per KPI, for the CI system's test view.
//! - [`markdown::render`]: a pull-request comment in the style of
//!   Infracost's, with cost per team.
//!
//! Every rendering is deterministic: the same comparison gives the same
//! bytes (no clock, no hash order), so a report can be committed, diffed and
//! snapshot-tested. Values are shown in the unit their KPI is measured in
//! (see [`crate::suite::KPI_CATALOGUE`]): money with the scenario's
//! currency, shares as percentages, latencies in ms (s from 10 s up),
//! counts as integers.
//!
//! ```
//! use std::collections::BTreeMap;
//! use twin_regress::compare::compare;
//! use twin_regress::results::{RESULTS_FORMAT, Results, RunResult, ScenarioResults};
//! use twin_regress::verdict::{Direction, Kpi};
//!
//! let results = |cost: f64| Results {
//!     format_version: RESULTS_FORMAT,
//!     twin_version: "0.1.0".into(),
//!     suite: "library".into(),
//!     seed_set: 1,
//!     seeds: (1..=20).collect(),
//!     scenarios: vec![ScenarioResults {
//!         name: "spot".into(),
//!         inputs_sha256: String::new(),
//!         horizon_s: 86_400.0,
//!         currency: "USD".into(),
//!         runs: (1..=20)
//!             .map(|seed| RunResult {
//!                 seed,
//!                 kpis: [("cost_per_month".to_string(), cost + (seed % 7) as f64)].into(),
//!                 ..Default::default()
//!             })
//!             .collect(),
//!     }],
//! };
//! let kpis = [Kpi { name: "cost_per_month".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 }];
//! let c = compare("library", &kpis, &results(1000.0), &results(1000.0), 0.05).unwrap();
//! let table = twin_regress::report::table::render(&c);
//! assert!(table.contains("~ (p=1.000 n=20)") && table.ends_with("PASS\n"));
//! assert!(twin_regress::report::markdown::render(&c).starts_with("### Twin regression gate: ✅ passed"));
//! assert!(twin_regress::report::junit::render(&c).contains(r#"<testcase name="cost_per_month" classname="spot"/>"#));
//! ```

use crate::compare::{Comparison, Row};
use crate::verdict::{Direction, Judgement, Verdict};
use twin_sim::report::thousands;

pub mod junit;
pub mod markdown;
pub mod table;

/// How a KPI's values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// An amount in the scenario's currency.
    Money,
    /// A share in [0, 1], shown in percent (differences in points).
    Share,
    /// Milliseconds.
    Millis,
    /// A count, or anything else.
    Count,
}

fn unit(kpi: &str) -> Unit {
    match kpi {
        "slo_attainment" | "gpu_allocation" | "fragmentation" | "idle_share" => Unit::Share,
        k if k.ends_with("_share") => Unit::Share,
        k if k.ends_with("_ms") => Unit::Millis,
        k if k.starts_with("cost") || k.ends_with("_cost") => Unit::Money,
        _ => Unit::Count,
    }
}

/// A KPI's value in its unit: `12,345.67 USD`, `99.52%`, `812.4 ms`, `12.35 s`, `1,204`.
pub(crate) fn value(kpi: &str, v: f64, currency: &str) -> String {
    value_at(kpi, v, currency, v)
}

/// A KPI's value in the unit that suits `scale`: values shown side by side
/// (a baseline and a candidate, a shift and its interval) share a unit, so
/// 12.00 s stands beside 9.00 s, not beside 8,997.8 ms.
pub(crate) fn value_at(kpi: &str, v: f64, currency: &str, scale: f64) -> String {
    match unit(kpi) {
        Unit::Money => format!("{} {currency}", thousands(v, 2)),
        Unit::Share => format!("{}%", thousands(100.0 * v, 2)),
        Unit::Millis if scale.abs() >= 10_000.0 => format!("{} s", thousands(v / 1000.0, 2)),
        Unit::Millis => format!("{} ms", thousands(v, 1)),
        Unit::Count => thousands(v, if v.fract() == 0.0 { 0 } else { 2 }),
    }
}

/// A difference between two values of a KPI, signed, in the unit that
/// suits `scale`: `+51.20 USD`, `-0.50 pp` (percentage points for a
/// share), `+1.25 s`.
pub(crate) fn delta_at(kpi: &str, d: f64, currency: &str, scale: f64) -> String {
    let s = match unit(kpi) {
        Unit::Share => format!("{} pp", thousands(100.0 * d, 2)),
        _ => value_at(kpi, d, currency, scale),
    };
    signed(s, d)
}

/// The larger magnitude of a few values: the scale they are shown at together.
pub(crate) fn scale(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// A relative change in percent, signed: `+5.12%`; empty when not finite.
pub(crate) fn percent(r: f64) -> String {
    if r.is_finite() { signed(format!("{}%", thousands(100.0 * r, 2)), r) } else { String::new() }
}

/// Puts a `+` before a positive number that does not round to zero.
fn signed(s: String, x: f64) -> String {
    if x > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') { format!("+{s}") } else { s }
}

/// A share as a short percentage without trailing zeros: 0.01 is `1%`, 0.002 is `0.2%`.
pub(crate) fn threshold(t: f64) -> String {
    let s = format!("{:.3}", 100.0 * t);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// benchstat's cell without any verdict word: `+5.12% (p=0.000 n=20)`, or `~ (p=0.446 n=20)`.
pub(crate) fn cell(j: &Judgement) -> String {
    let s = j.to_string();
    match s.strip_suffix(" past the limit") {
        Some(core) => core.to_string(),
        None => s,
    }
}

/// The scale a row's medians and limit are shown at, together.
pub(crate) fn row_scale(row: &Row) -> f64 {
    let j = &row.judgement;
    scale(&[j.base_median, j.candidate_median, row.kpi.floor.unwrap_or(0.0)])
}

/// The KPI's limit in its unit, for a row judged past it.
pub(crate) fn limit(row: &Row, currency: &str) -> String {
    row.kpi.floor.map_or_else(String::new, |f| value_at(&row.kpi.name, f, currency, row_scale(row)))
}

/// Why a row failed or improved, with its interval: `median shift +51.20 USD
/// [+40.10 USD, +60.30 USD] (+5.12%) beyond the 1% threshold; p=0.000
/// adjusted`, or, past its limit, where the candidate's median stands.
pub(crate) fn explain(row: &Row, currency: &str) -> String {
    let (j, k) = (&row.judgement, &row.kpi.name);
    let (est, lo, hi) = j.shift;
    let rel = percent(j.relative());
    let rel = if rel.is_empty() { String::new() } else { format!(" ({rel})") };
    let at = scale(&[est, lo, hi]);
    let shift = format!(
        "median shift {} [{}, {}]{rel}",
        delta_at(k, est, currency, at),
        delta_at(k, lo, currency, at),
        delta_at(k, hi, currency, at)
    );
    let medians = row_scale(row);
    match j.verdict {
        Verdict::PastLimit => {
            let (side, bound) = match row.kpi.direction {
                Direction::LowerIsBetter => ("above", "ceiling"),
                Direction::HigherIsBetter => ("below", "floor"),
            };
            format!(
                "candidate median {} is {side} the {bound} {} (baseline median {}); {shift}; p={:.3} adjusted",
                value_at(k, j.candidate_median, currency, medians),
                limit(row, currency),
                value_at(k, j.base_median, currency, medians),
                j.p_adjusted
            )
        }
        Verdict::Same => {
            format!("{shift}: within the {} threshold, or not significant; p={:.3} adjusted", threshold(row.kpi.threshold), j.p_adjusted)
        }
        Verdict::Regression | Verdict::Improvement => {
            format!("{shift} beyond the {} threshold; p={:.3} adjusted", threshold(row.kpi.threshold), j.p_adjusted)
        }
    }
}

/// `1 regression`, `2 regressions`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How many rows got each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) regressions: usize,
    pub(crate) past_limit: usize,
    pub(crate) improvements: usize,
    pub(crate) same: usize,
}

impl Tally {
    pub(crate) fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Tally {
        let mut t = Tally::default();
        for r in rows {
            match r.judgement.verdict {
                Verdict::Regression => t.regressions += 1,
                Verdict::PastLimit => t.past_limit += 1,
                Verdict::Improvement => t.improvements += 1,
                Verdict::Same => t.same += 1,
            }
        }
        t
    }

    /// What fails the gate: `2 regressions, 1 past its limit` (empty when nothing).
    pub(crate) fn failures(&self) -> String {
        let mut parts = Vec::new();
        if self.regressions > 0 {
            parts.push(plural(self.regressions, "regression", "regressions"));
        }
        if self.past_limit > 0 {
            parts.push(format!("{} past {}", self.past_limit, if self.past_limit == 1 { "its limit" } else { "their limits" }));
        }
        parts.join(", ")
    }

    /// Every count: `2 regressions, 1 past its limit, 1 improvement, 5 unchanged`.
    pub(crate) fn counts(&self) -> String {
        let mut parts = vec![plural(self.regressions, "regression", "regressions")];
        if self.past_limit > 0 {
            parts.push(format!("{} past {}", self.past_limit, if self.past_limit == 1 { "its limit" } else { "their limits" }));
        }
        parts.push(plural(self.improvements, "improvement", "improvements"));
        parts.push(format!("{} unchanged", self.same));
        parts.join(", ")
    }
}

/// The notes naming `scenario` (each note starts `scenario: `).
pub(crate) fn notes_of<'a>(c: &'a Comparison, scenario: &'a str) -> impl Iterator<Item = &'a String> {
    c.notes.iter().filter(move |n| n.strip_prefix(scenario).is_some_and(|rest| rest.starts_with(": ")))
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Small comparisons built the way the gate builds them.

    use crate::compare::{Comparison, compare};
    use crate::results::{RESULTS_FORMAT, Results, RunResult, ScenarioResults};
    use crate::verdict::{Direction, Kpi};
    use std::collections::BTreeMap;

    /// Deterministic noise in [-1, 1] for run `i`.
    fn noise(i: usize) -> f64 {
        (i as f64 * 1.7).sin()
    }

    fn scenario(
        name: &str,
        currency: &str,
        run: impl Fn(usize) -> (Vec<(&'static str, f64)>, Vec<(&'static str, f64)>),
    ) -> ScenarioResults {
        ScenarioResults {
            name: name.into(),
            inputs_sha256: String::new(),
            horizon_s: 86_400.0,
            currency: currency.into(),
            runs: (0..20)
                .map(|i| {
                    let (kpis, teams) = run(i);
                    RunResult {
                        seed: i as u64 + 1,
                        kpis: kpis.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(),
                        team_cost_per_month: teams.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                        ..Default::default()
                    }
                })
                .collect(),
        }
    }

    fn results(scenarios: Vec<ScenarioResults>) -> Results {
        Results {
            format_version: RESULTS_FORMAT,
            twin_version: "0.1.0".into(),
            suite: "library".into(),
            seed_set: 1,
            seeds: (1..=20).collect(),
            scenarios,
        }
    }

    /// The suite's KPIs: cost, SLO attainment with a floor, P99 TTFT, drops.
    pub(crate) fn kpis() -> Vec<Kpi> {
        vec![
            Kpi { name: "cost_per_month".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 },
            Kpi {
                name: "slo_attainment".into(),
                direction: Direction::HigherIsBetter,
                threshold: 0.002,
                floor: Some(0.95),
                min_change: 0.0,
            },
            Kpi { name: "ttft_p99_ms".into(), direction: Direction::LowerIsBetter, threshold: 0.05, floor: None, min_change: 0.0 },
            Kpi { name: "drops".into(), direction: Direction::LowerIsBetter, threshold: 0.05, floor: None, min_change: 0.0 },
        ]
    }

    /// Two scenarios and a third only the candidate runs. In `spot|fgd`
    /// (USD, teams `ml` and `search|ads`) cost regresses by 5%, SLO
    /// attainment falls below its floor, TTFT improves by a quarter and
    /// drops do not change; in `batch` (EUR, team `ml`) nothing changes.
    pub(crate) fn mixed() -> Comparison {
        let spot = |worse: bool| {
            scenario("spot|fgd", "USD", move |i| {
                let e = noise(i);
                let f = if worse { 1.05 } else { 1.0 };
                let cost = (100_000.0 + 500.0 * e) * f + if worse { (i % 3) as f64 } else { 0.0 };
                let slo = if worse { 0.94 - 0.001 * e.abs() } else { 0.995 + 0.0005 * e };
                let ttft = if worse { 9_000.0 + 40.0 * e } else { 12_000.0 + 50.0 * e };
                let drops = 120.0 + (i % 5) as f64 + if worse { [1.0, -1.0][i % 2] } else { 0.0 };
                let kpis = vec![("cost_per_month", cost), ("slo_attainment", slo), ("ttft_p99_ms", ttft), ("drops", drops)];
                (kpis, vec![("ml", 0.6 * cost), ("search|ads", 0.4 * cost)])
            })
        };
        let batch = |cand: bool| {
            scenario("batch", "EUR", move |i| {
                let e = noise(i);
                let d = if cand { [0.5, -0.5][i % 2] } else { 0.0 };
                let cost = 2_500.0 + 10.0 * e + d;
                let kpis = vec![("cost_per_month", cost), ("slo_attainment", 0.999), ("ttft_p99_ms", 310.0 + e + d), ("drops", 0.0)];
                (kpis, vec![("ml", cost)])
            })
        };
        let base = results(vec![spot(false), batch(false)]);
        let mut cand = results(vec![spot(true), batch(true)]);
        cand.scenarios.push(scenario("new", "USD", |_| (vec![("cost_per_month", 1.0)], vec![])));
        compare("library", &kpis(), &base, &cand, 0.05).unwrap()
    }

    /// One scenario, one KPI, nothing changed.
    pub(crate) fn unchanged() -> Comparison {
        let one = || scenario("a", "USD", |i| (vec![("cost_per_month", 1_000.0 + noise(i))], vec![("ml", 1_000.0 + noise(i))]));
        compare("tiny", &kpis()[..1], &results(vec![one()]), &results(vec![one()]), 0.05).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn values_read_in_their_units() {
        assert_eq!(value("cost_per_month", 1_234_567.891, "EUR"), "1,234,567.89 EUR");
        assert_eq!(value("slo_attainment", 0.99517, "USD"), "99.52%");
        assert_eq!(value("ttft_p99_ms", 812.44, "USD"), "812.4 ms");
        assert_eq!(value("e2e_p99_ms", 12_345.0, "USD"), "12.35 s");
        assert_eq!(value("drops", 1_204.0, "USD"), "1,204");
        assert_eq!(value("drops", 1_204.5, "USD"), "1,204.50");
        assert_eq!(value_at("e2e_p99_ms", 8_997.8, "USD", 12_000.0), "9.00 s");
        let delta = |k: &str, d: f64| delta_at(k, d, "USD", d);
        assert_eq!(delta("cost_per_month", 51.2), "+51.20 USD");
        assert_eq!(delta("cost_per_month", -51.2), "-51.20 USD");
        assert_eq!(delta("idle_share", 0.005), "+0.50 pp");
        assert_eq!(delta("drops", 0.0), "0");
        assert_eq!(delta("drops", 0.0001), "0.00");
        assert_eq!(delta_at("ttft_p99_ms", -3_000.3, "USD", 3_006.2), "-3,000.3 ms");
        assert_eq!(scale(&[-3.0, 2.0]), 3.0);
        assert_eq!(percent(0.0512), "+5.12%");
        assert_eq!(percent(f64::NAN), "");
        assert_eq!((threshold(0.01), threshold(0.002), threshold(0.05)), ("1%".into(), "0.2%".into(), "5%".into()));
    }

    #[test]
    fn the_fixture_has_every_verdict() {
        let c = fixture::mixed();
        let v: Vec<(&str, &str, Verdict)> =
            c.rows.iter().map(|r| (r.scenario.as_str(), r.kpi.name.as_str(), r.judgement.verdict)).collect();
        assert_eq!(
            v,
            [
                ("spot|fgd", "cost_per_month", Verdict::Regression),
                ("spot|fgd", "slo_attainment", Verdict::PastLimit),
                ("spot|fgd", "ttft_p99_ms", Verdict::Improvement),
                ("spot|fgd", "drops", Verdict::Same),
                ("batch", "cost_per_month", Verdict::Same),
                ("batch", "slo_attainment", Verdict::Same),
                ("batch", "ttft_p99_ms", Verdict::Same),
                ("batch", "drops", Verdict::Same),
            ]
        );
        assert_eq!(Tally::of(&c.rows).counts(), "1 regression, 1 past its limit, 1 improvement, 5 unchanged");
        assert_eq!(Tally::of(&c.rows).failures(), "1 regression, 1 past its limit");
        assert_eq!(notes_of(&c, "new").count(), 1);
        assert_eq!(notes_of(&c, "ne").count(), 0);
        let cost = &c.rows[0];
        let e = explain(cost, "USD");
        assert!(e.starts_with("median shift +5,0") && e.ends_with("beyond the 1% threshold; p=0.000 adjusted"), "{e}");
        let e = explain(&c.rows[1], "USD");
        assert!(e.starts_with("candidate median 93.9") && e.contains("is below the floor 95.00% (baseline median 99.5"), "{e}");
    }
}
