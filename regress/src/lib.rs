//! Twin's regression gate: is a candidate (a scheduler, a policy set, a
//! workload change) worse than its baseline, with statistics that never cry
//! wolf?
//!
//! A simulation has what no benchmark has: the same seed gives the same
//! run, so baseline and candidate are **paired** seed by seed. For each KPI
//! the gate takes the paired differences and asks three things:
//!
//! 1. Is there a difference at all? The exact Wilcoxon signed-rank test
//!    ([`wilcoxon`]), its p-values corrected across every KPI and scenario
//!    of a suite with Holm-Bonferroni ([`holm`]).
//! 2. How big is it? The Hodges-Lehmann estimate of the median difference
//!    and its exact confidence interval ([`wilcoxon::hodges_lehmann`]).
//! 3. Does it matter? A change is a regression only when it is significant
//!    **and** its whole interval lies beyond the KPI's practical threshold
//!    (as criterion decides "within noise"); otherwise `~`, as benchstat
//!    prints ([`verdict`]). Improvements are judged the same way.
//!
//! ```
//! use twin_regress::verdict::{judge, Direction, Kpi, Verdict};
//! let kpi = Kpi { name: "cost".into(), direction: Direction::LowerIsBetter, threshold: 0.01, floor: None, min_change: 0.0 };
//! let base: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i)).collect();
//! let worse: Vec<f64> = base.iter().enumerate().map(|(i, b)| b * 1.05 + (i % 3) as f64 * 0.1).collect();
//! let j = judge(&kpi, &base, &worse, 0.05).unwrap();
//! assert_eq!(j.verdict, Verdict::Regression);
//! let same = judge(&kpi, &base, &base, 0.05).unwrap();
//! assert_eq!(same.verdict, Verdict::Same);
//! ```
//!
//! A suite ([`suite`]) names scenarios, seeds and KPIs; each run's KPIs
//! ([`measure`]) are kept as [`results::Results`], which [`compare`] judges
//! side against side.
//!
//! Pure and deterministic: no I/O, no randomness, no threads; the `twin`
//! binary runs the scenarios and reads and writes the files.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod compare;
pub mod holm;
pub mod measure;
pub mod report;
pub mod results;
pub mod shard;
pub mod suite;
pub mod verdict;
pub mod wilcoxon;
