//! A suite's runs split into shards, as the pods of a Kubernetes Indexed
//! Job run them, and merged back into exactly the results one run writes.
//!
//! Work item *k* is the *k*-th (scenario, seed) pair in suite order, seed
//! order within a scenario; shard *i* of *n* runs the items with
//! `k % n == i` (so a shard may run nothing when there are more shards than
//! items). Each shard writes a [`ShardResults`]; [`merge`] checks that the
//! set is whole and from one suite and one Twin, and assembles
//! [`Results`] identical to an unsharded run's.

use crate::results::{Results, RunResult, ScenarioResults};
use serde::{Deserialize, Serialize};

/// The shard file format this build writes and reads.
pub const SHARD_FORMAT: u32 = 1;

/// Shard `index` of `count`, written `index/count` (0-based, as `JOB_COMPLETION_INDEX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    /// How many.
    pub count: u32,
}

impl Shard {
    /// Reads `I/N`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Spec(format!("`{text}` is not a shard: write I/N with 0 ≤ I < N, such as 0/4"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether work item `k` is this shard's.
    pub fn owns(self, k: usize) -> bool {
        k % self.count as usize == self.index as usize
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A scenario as every shard sees it (its runs are the shards').
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioHeader {
    /// The name reports use.
    pub name: String,
    /// What exactly ran.
    pub inputs_sha256: String,
    /// Simulated seconds per run.
    pub horizon_s: f64,
    /// The billing currency.
    pub currency: String,
}

/// One work item's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemResult {
    /// Its index in suite order.
    pub item: usize,
    /// The run.
    pub run: RunResult,
}

/// What one shard writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardResults {
    /// Must be [`SHARD_FORMAT`].
    pub shard_format: u32,
    /// The Twin that ran it: shards of different Twins never merge.
    pub twin_version: String,
    /// SHA-256 of the suite file's text: shards of different suites never merge.
    pub suite_sha256: String,
    /// The suite's name.
    pub suite: String,
    /// The seed set.
    pub seed_set: u32,
    /// The seeds, in run order.
    pub seeds: Vec<u64>,
    /// Every scenario, in suite order.
    pub scenarios: Vec<ScenarioHeader>,
    /// Which shard.
    pub shard: Shard,
    /// Its items, in order.
    pub items: Vec<ItemResult>,
}

impl ShardResults {
    /// Pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("shard results serialise");
        s.push('\n');
        s
    }

    /// Reads a shard file; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<ShardResults, ShardError> {
        let r: ShardResults = serde_json::from_str(text).map_err(|e| ShardError::Parse {
            origin: origin.into(),
            message: format!("line {}, column {}: {e} (is it a shard written by `twin regress --shard`?)", e.line(), e.column()),
        })?;
        if r.shard_format != SHARD_FORMAT {
            return Err(ShardError::Parse {
                origin: origin.into(),
                message: format!("shard format {} (this Twin reads {SHARD_FORMAT})", r.shard_format),
            });
        }
        Ok(r)
    }
}

/// Why shards do not merge.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// A shard spec that is not `I/N`.
    #[error("{0}")]
    Spec(String),
    /// A file that is not a shard.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The set is not whole, has a shard twice, or mixes runs.
    #[error("{0}")]
    Set(String),
}

/// Merges a whole set of shards (`(origin, shard)`, any order) into the
/// results one unsharded run writes.
pub fn merge(parts: &[(String, ShardResults)]) -> Result<Results, ShardError> {
    let Some((first_origin, first)) = parts.first() else {
        return Err(ShardError::Set("no shards to merge".into()));
    };
    let n = first.shard.count;
    let mut seen: Vec<Option<&str>> = vec![None; n as usize];
    for (origin, p) in parts {
        let foreign = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            ShardError::Set(format!("{origin} is a shard of another run: its {what} is {a:?}, {first_origin}'s is {b:?}"))
        };
        if p.twin_version != first.twin_version {
            return Err(foreign("Twin version", &p.twin_version, &first.twin_version));
        }
        if p.suite_sha256 != first.suite_sha256 || p.suite != first.suite {
            return Err(foreign(
                "suite",
                &(&p.suite, &p.suite_sha256[..12.min(p.suite_sha256.len())]),
                &(&first.suite, &first.suite_sha256[..12.min(first.suite_sha256.len())]),
            ));
        }
        if p.seeds != first.seeds || p.seed_set != first.seed_set {
            return Err(foreign("seeds", &p.seeds.len(), &first.seeds.len()));
        }
        if p.scenarios != first.scenarios {
            return Err(foreign(
                "scenarios' inputs",
                &p.scenarios.iter().map(|s| &s.inputs_sha256[..12.min(s.inputs_sha256.len())]).collect::<Vec<_>>(),
                &first.scenarios.iter().map(|s| &s.inputs_sha256[..12.min(s.inputs_sha256.len())]).collect::<Vec<_>>(),
            ));
        }
        if p.shard.count != n {
            return Err(foreign("shard count", &p.shard.count, &n));
        }
        match seen[p.shard.index as usize] {
            Some(other) => return Err(ShardError::Set(format!("shard {} is here twice: {other} and {origin}", p.shard))),
            None => seen[p.shard.index as usize] = Some(origin),
        }
    }
    let missing: Vec<String> = seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| format!("{i}/{n}")).collect();
    if !missing.is_empty() {
        return Err(ShardError::Set(format!(
            "missing shard{} {}: merge needs all {n}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let per = first.seeds.len();
    let total = first.scenarios.len() * per;
    let mut runs: Vec<Option<RunResult>> = vec![None; total];
    for (origin, p) in parts {
        for it in &p.items {
            if it.item >= total || !p.shard.owns(it.item) {
                return Err(ShardError::Set(format!("{origin}: item {} is not shard {}'s", it.item, p.shard)));
            }
            if runs[it.item].replace(it.run.clone()).is_some() {
                return Err(ShardError::Set(format!("{origin}: item {} twice", it.item)));
            }
        }
    }
    if let Some(k) = runs.iter().position(Option::is_none) {
        return Err(ShardError::Set(format!(
            "item {k} (scenario {}, seed {}) is in no shard: shard {} is cut short",
            first.scenarios[k / per].name,
            k % per,
            Shard { index: (k % n as usize) as u32, count: n }
        )));
    }
    let mut runs = runs.into_iter().flatten();
    Ok(Results {
        format_version: crate::results::RESULTS_FORMAT,
        twin_version: first.twin_version.clone(),
        suite: first.suite.clone(),
        seed_set: first.seed_set,
        seeds: first.seeds.clone(),
        scenarios: first
            .scenarios
            .iter()
            .map(|h| ScenarioResults {
                name: h.name.clone(),
                inputs_sha256: h.inputs_sha256.clone(),
                horizon_s: h.horizon_s,
                currency: h.currency.clone(),
                runs: runs.by_ref().take(per).collect(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: u32, count: u32, total: usize) -> (String, ShardResults) {
        let shard = Shard { index, count };
        let header = ScenarioHeader { name: "s".into(), inputs_sha256: "ab".repeat(32), horizon_s: 60.0, currency: "USD".into() };
        let items = (0..total)
            .filter(|&k| shard.owns(k))
            .map(|k| ItemResult { item: k, run: RunResult { seed: k as u64, ..Default::default() } })
            .collect();
        let r = ShardResults {
            shard_format: SHARD_FORMAT,
            twin_version: "0.1.0".into(),
            suite_sha256: "cd".repeat(32),
            suite: "t".into(),
            seed_set: 1,
            seeds: (0..total as u64).collect(),
            scenarios: vec![header],
            shard,
            items,
        };
        (format!("shard-{index}.json"), r)
    }

    #[test]
    fn shards_parse_and_own_their_items() {
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|&k| s.owns(k)).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn a_whole_set_merges_in_any_order_and_more_shards_than_items_is_fine() {
        for n in [1u32, 2, 3, 9] {
            let mut parts: Vec<_> = (0..n).map(|i| part(i, n, 5)).collect();
            parts.reverse();
            let r = merge(&parts).unwrap();
            assert_eq!(r.scenarios[0].runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 1, 2, 3, 4], "n = {n}");
        }
    }

    #[test]
    fn missing_duplicated_and_foreign_shards_are_refused_by_name() {
        let e = merge(&[part(0, 3, 5), part(2, 3, 5)]).unwrap_err().to_string();
        assert!(e.contains("missing shard 1/3"), "{e}");
        let e = merge(&[part(0, 2, 5), part(1, 2, 5), part(1, 2, 5)]).unwrap_err().to_string();
        assert!(e.contains("shard 1/2 is here twice: shard-1.json and shard-1.json"), "{e}");
        let mut other = part(1, 2, 5);
        other.0 = "other.json".into();
        other.1.twin_version = "0.2.0".into();
        let e = merge(&[part(0, 2, 5), other]).unwrap_err().to_string();
        assert!(e.contains("other.json is a shard of another run: its Twin version"), "{e}");
        let mut other = part(1, 2, 5);
        other.1.suite_sha256 = "ef".repeat(32);
        assert!(merge(&[part(0, 2, 5), other]).unwrap_err().to_string().contains("its suite"));
        let mut cut = part(1, 2, 5);
        cut.1.items.pop();
        assert!(merge(&[part(0, 2, 5), cut]).unwrap_err().to_string().contains("is in no shard"));
        assert!(merge(&[]).is_err());
    }
}
