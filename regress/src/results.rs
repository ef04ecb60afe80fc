//! A suite's measured runs: what `--write-results` stores and `--baseline` reads back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The results format this build writes and reads.
pub const RESULTS_FORMAT: u32 = 1;

/// Every run of a suite, with its KPIs.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Must be 1.
    pub format_version: u32,
    /// The Twin that ran them.
    pub twin_version: String,
    /// The suite's name.
    pub suite: String,
    /// The seed set.
    pub seed_set: u32,
    /// The seeds, in run order.
    pub seeds: Vec<u64>,
    /// Each scenario's runs, in suite order.
    pub scenarios: Vec<ScenarioResults>,
}

/// One scenario's runs.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioResults {
    /// The name reports use.
    pub name: String,
    /// SHA-256 over the scenario text and every manifest it ran with: what exactly ran.
    pub inputs_sha256: String,
    /// Simulated time per run, seconds (0 for a pod-trace experiment).
    pub horizon_s: f64,
    /// The billing currency.
    pub currency: String,
    /// One per seed, in seed order.
    pub runs: Vec<RunResult>,
}

/// One run's KPIs.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    /// Its seed.
    pub seed: u64,
    /// KPI values by name; a KPI the scenario does not measure (latency
    /// with no served workload) is absent.
    pub kpis: BTreeMap<String, f64>,
    /// Cost per 30 days by team.
    pub team_cost_per_month: BTreeMap<String, f64>,
    /// SLO attainment by team, over the team's served workloads (teams with none are absent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub team_slo_attainment: BTreeMap<String, f64>,
    /// The worst P99 time to first token of the team's served workloads, ms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub team_ttft_p99_ms: BTreeMap<String, f64>,
}

/// Why results cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Not JSON, or not results.
    #[error("{origin}: line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A scenario's runs are not the file's seeds in order.
    #[error(
        "{origin}: scenario {scenario}: run {index} is not the seed the file lists at {index}; each scenario's runs must be the file's `seeds`, in order (write the file again with --write-results)"
    )]
    Seeds {
        /// The file.
        origin: String,
        /// The scenario.
        scenario: String,
        /// The first run that differs.
        index: usize,
    },
    /// Results of another format.
    #[error("{origin}: results format {found}, but this Twin reads format {RESULTS_FORMAT}; run the baseline again with this Twin")]
    Format {
        /// The file.
        origin: String,
        /// Its format version.
        found: u32,
    },
}

impl Results {
    /// Reads results JSON; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Results, ResultsError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let parse_error = |e: serde_json::Error| ResultsError::Parse {
            origin: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let v: Version = serde_json::from_str(text).map_err(parse_error)?;
        if v.format_version != RESULTS_FORMAT {
            return Err(ResultsError::Format { origin: origin.to_string(), found: v.format_version });
        }
        let results: Results = serde_json::from_str(text).map_err(parse_error)?;
        // Runs pair seed by seed: each scenario's runs must be the seeds, in order.
        for s in &results.scenarios {
            let seeds: Vec<u64> = s.runs.iter().map(|r| r.seed).collect();
            if seeds != results.seeds {
                let at = seeds.iter().zip(&results.seeds).position(|(a, b)| a != b).unwrap_or(seeds.len().min(results.seeds.len()));
                return Err(ResultsError::Seeds { origin: origin.to_string(), scenario: s.name.clone(), index: at });
            }
        }
        Ok(results)
    }

    /// The results as pretty JSON, ending in a newline: the same bytes for the same runs.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("results serialise");
        s.push('\n');
        s
    }

    /// A scenario's runs by name.
    pub fn scenario(&self, name: &str) -> Option<&ScenarioResults> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Results {
        Results {
            format_version: RESULTS_FORMAT,
            twin_version: "0.1.0".into(),
            suite: "t".into(),
            seed_set: 1,
            seeds: vec![7],
            scenarios: vec![ScenarioResults {
                name: "a".into(),
                inputs_sha256: "00".into(),
                horizon_s: 3600.0,
                currency: "USD".into(),
                runs: vec![RunResult {
                    seed: 7,
                    kpis: [("cost_per_month".to_string(), 12.5)].into(),
                    team_slo_attainment: [("ml".to_string(), 0.99)].into(),
                    ..Default::default()
                }],
            }],
        }
    }

    #[test]
    fn results_round_trip_and_refuse_other_formats() {
        let r = results();
        assert_eq!(Results::from_json(&r.to_json(), "r.json").unwrap(), r);
        let other = r.to_json().replace("\"format_version\": 1", "\"format_version\": 9");
        assert!(Results::from_json(&other, "r.json").unwrap_err().to_string().contains("format 9"));
        let mut shuffled = r.clone();
        shuffled.scenarios[0].runs[0].seed = 8;
        let e = Results::from_json(&shuffled.to_json(), "r.json").unwrap_err().to_string();
        assert!(e.contains("scenario a: run 0"), "{e}");
        let e = Results::from_json("{\"format_version\": 1, \"x\": 1}", "r.json").unwrap_err().to_string();
        assert!(e.starts_with("r.json: line 1"), "{e}");
    }
}
