//! A sweep share's partial result as a file, as a pod of an Indexed Job
//! writes it, and a whole set of them read back into the sweep one run
//! computes.
//!
//! A shard file is JSON: what the sweep is (a header the caller owns, and
//! a SHA-256 of everything that decides its numbers), which share it
//! holds, and one exact [`Tally`] per run of replicas (sums as integer
//! units, histogram counts sparse, floats as their bits, so nothing is
//! rounded on the way). Kept outcomes go beside it in a raw file of
//! little-endian `f32`s, [`OUTCOME_FIELDS`] a replica, named and hashed in
//! the JSON. [`merge`] refuses a set that is not whole (a share missing or
//! there twice, naming the files), mixes sweeps or Twins, or whose files
//! do not hold the runs their share should.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::PointParams;
use crate::engine::Swept;
use crate::exact::FixedSum;
use crate::model::{OUTCOME_FIELDS, Outcome};
use crate::share::{self, Run, RunPart, Share};
use crate::tally::{Bounds, Histogram, SLOTS, Tally};

/// The shard file format this build writes and reads.
pub const FORMAT: u32 = 1;

/// One share's partial result (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// Must be [`FORMAT`]; also how a file is told from a regression shard.
    pub sweep_shard_format: u32,
    /// The Twin that ran it: shards of different Twins never merge.
    pub twin_version: String,
    /// SHA-256 of the header, the points' parameters and the replica
    /// count ([`identity`]): shards of different sweeps never merge.
    pub sweep_sha256: String,
    /// Which share.
    pub shard: ShareSpec,
    /// Grid points.
    pub points: usize,
    /// Replicas a point.
    pub replicas: u32,
    /// What the sweep is, as the caller describes it (copied into the merge).
    pub header: serde_json::Value,
    /// The share's runs, in point order.
    pub runs: Vec<RunRecord>,
    /// The file beside this one holding the runs' outcomes, when kept.
    pub outcomes: Option<OutcomesRecord>,
}

/// `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    /// From 0.
    pub index: u32,
    /// How many shares.
    pub count: u32,
}

/// Where the kept outcomes are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomesRecord {
    /// File name, in the shard file's folder.
    pub file: String,
    /// Replicas in it.
    pub replicas: u64,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// One run's replicas and tally.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The point.
    pub point: usize,
    /// First replica.
    pub first: u32,
    /// Replicas.
    pub count: u32,
    /// Their tally.
    pub tally: TallyRecord,
}

/// A [`Tally`], exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TallyRecord {
    /// Replicas counted.
    pub n: u64,
    /// Each outcome field's sum in 2⁻⁴⁰ units, as decimal text.
    pub sums: Vec<String>,
    /// The attainment sum, likewise.
    pub attainment_sum: String,
    /// Misses of the target.
    pub misses: u64,
    /// The target's `f32` bits.
    pub target_bits: u32,
    /// Cost's histogram.
    pub cost: HistogramRecord,
    /// Attainment's histogram.
    pub attainment: HistogramRecord,
}

/// A [`Histogram`], exactly: floats as bits, non-zero slots only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramRecord {
    /// `lo`'s bits.
    pub lo_bits: u32,
    /// `per_unit`'s bits.
    pub per_unit_bits: u32,
    /// `min`'s bits.
    pub min_bits: u32,
    /// `max`'s bits.
    pub max_bits: u32,
    /// `(slot, count)` for every slot counted.
    pub counts: Vec<(u32, u64)>,
}

/// Why a shard file or set is refused; each names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShardFileError {
    /// Not a sweep shard this Twin reads.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// What is wrong, and the fix.
        message: String,
    },
    /// The files are not one whole set of one sweep.
    #[error("{0}")]
    Set(String),
}

impl From<&Histogram> for HistogramRecord {
    fn from(h: &Histogram) -> Self {
        HistogramRecord {
            lo_bits: h.bounds.lo.to_bits(),
            per_unit_bits: h.bounds.per_unit.to_bits(),
            min_bits: h.min.to_bits(),
            max_bits: h.max.to_bits(),
            counts: h.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(s, c)| (s as u32, *c)).collect(),
        }
    }
}

impl HistogramRecord {
    fn histogram(&self) -> Result<Histogram, String> {
        let mut h = Histogram::new(Bounds { lo: f32::from_bits(self.lo_bits), per_unit: f32::from_bits(self.per_unit_bits) });
        h.min = f32::from_bits(self.min_bits);
        h.max = f32::from_bits(self.max_bits);
        for &(slot, count) in &self.counts {
            *h.counts.get_mut(slot as usize).ok_or_else(|| format!("histogram slot {slot} is past the last ({})", SLOTS - 1))? = count;
        }
        Ok(h)
    }
}

impl From<&Tally> for TallyRecord {
    fn from(t: &Tally) -> Self {
        TallyRecord {
            n: t.n,
            sums: t.sums.iter().map(|s| s.units().to_string()).collect(),
            attainment_sum: t.attainment_sum.units().to_string(),
            misses: t.misses,
            target_bits: t.target.to_bits(),
            cost: (&t.cost).into(),
            attainment: (&t.attainment).into(),
        }
    }
}

impl TallyRecord {
    fn tally(&self) -> Result<Tally, String> {
        let units = |s: &str| s.parse::<i128>().map(FixedSum::from_units).map_err(|_| format!("`{s}` is not a sum in units"));
        if self.sums.len() != OUTCOME_FIELDS {
            return Err(format!("{} sums where a tally has {OUTCOME_FIELDS}", self.sums.len()));
        }
        let mut sums = [FixedSum::ZERO; OUTCOME_FIELDS];
        for (s, text) in sums.iter_mut().zip(&self.sums) {
            *s = units(text)?;
        }
        Ok(Tally {
            n: self.n,
            sums,
            attainment_sum: units(&self.attainment_sum)?,
            misses: self.misses,
            target: f32::from_bits(self.target_bits),
            cost: self.cost.histogram()?,
            attainment: self.attainment.histogram()?,
        })
    }
}

/// The sweep's identity: SHA-256 of the header's JSON, every point's
/// parameters (their bytes) and the replica count. Two shards merge only
/// when theirs agree.
pub fn identity(header: &serde_json::Value, points: &[PointParams], replicas: u32) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(header).expect("a JSON value serialises"));
    h.update((points.len() as u64).to_le_bytes());
    for p in points {
        h.update(bytemuck::bytes_of(p));
    }
    h.update(replicas.to_le_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Outcomes as the raw file holds them: little-endian `f32`s, field by field.
pub fn outcomes_bytes<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Vec<u8> {
    let mut out = Vec::new();
    for o in outcomes {
        for v in bytemuck::cast::<Outcome, [f32; OUTCOME_FIELDS]>(*o) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// SHA-256 of `bytes`, in hex (what [`OutcomesRecord::sha256`] holds).
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl ShardFile {
    /// The file for one share's `parts`: `twin_version` is the running
    /// Twin's, `outcomes` where the parts' outcomes were written, if kept.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        twin_version: &str,
        header: serde_json::Value,
        points: &[PointParams],
        replicas: u32,
        share: Share,
        parts: &[RunPart],
        outcomes: Option<OutcomesRecord>,
    ) -> ShardFile {
        ShardFile {
            sweep_shard_format: FORMAT,
            twin_version: twin_version.into(),
            sweep_sha256: identity(&header, points, replicas),
            shard: ShareSpec { index: share.index, count: share.count },
            points: points.len(),
            replicas,
            header,
            runs: parts
                .iter()
                .map(|p| RunRecord { point: p.run.point, first: p.run.first, count: p.run.count, tally: (&p.tally).into() })
                .collect(),
            outcomes,
        }
    }

    /// The name a share's file goes by: `sweep-shard-0003-of-0010.json`
    /// (padded so a folder lists them in order).
    pub fn file_name(share: Share) -> String {
        let w = share.count.to_string().len().max(4);
        format!("sweep-shard-{:0w$}-of-{:0w$}.json", share.index, share.count)
    }

    /// Compact JSON (a merge reads thousands), ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string(self).expect("a shard file serialises");
        s.push('\n');
        s
    }

    /// Reads a shard file; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<ShardFile, ShardFileError> {
        let parse = |message: String| ShardFileError::Parse { origin: origin.into(), message };
        let f: ShardFile = serde_json::from_str(text).map_err(|e| {
            parse(format!("line {}, column {}: {e} (is it a shard written by `twin sweep --shard`?)", e.line(), e.column()))
        })?;
        if f.sweep_shard_format != FORMAT {
            return Err(parse(format!(
                "sweep shard format {} (this Twin reads {FORMAT}): merge with the Twin that wrote it",
                f.sweep_shard_format
            )));
        }
        if f.shard.count == 0 || f.shard.index >= f.shard.count {
            return Err(parse(format!("shard {}/{} is not a share (0 ≤ index < count)", f.shard.index, f.shard.count)));
        }
        Ok(f)
    }
}

/// Whether `text` (JSON) looks like a sweep shard rather than another file.
pub fn is_sweep_shard(text: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok_and(|m| m.contains_key("sweep_shard_format"))
}

/// A whole set merged: the header every shard carries and the sweep.
#[derive(Debug)]
pub struct Merged {
    /// The header, as the shards carry it.
    pub header: serde_json::Value,
    /// Points.
    pub points: usize,
    /// Replicas a point.
    pub replicas: u32,
    /// Tallies and, when kept, outcomes: what one run computes.
    pub swept: Swept,
}

/// Merges a whole set of shard files (`(origin, file, outcome bytes)`, any
/// order; the bytes when the file names an outcomes file) written by Twin
/// `twin_version`.
pub fn merge(twin_version: &str, set: Vec<(String, ShardFile, Option<Vec<u8>>)>) -> Result<Merged, ShardFileError> {
    let Some((first_origin, first, _)) = set.first() else {
        return Err(ShardFileError::Set("no sweep shards to merge".into()));
    };
    let (first_origin, sha, count, points, replicas) =
        (first_origin.clone(), first.sweep_sha256.clone(), first.shard.count, first.points, first.replicas);
    let header = first.header.clone();
    let mut seen: Vec<Option<String>> = vec![None; count as usize];
    let mut parts = Vec::new();
    for (origin, f, bytes) in set {
        let bad = |message: String| ShardFileError::Parse { origin: origin.clone(), message };
        if f.twin_version != twin_version {
            return Err(bad(format!(
                "written by Twin {}, and this is Twin {twin_version}: rerun the shard, or merge with the Twin that wrote it",
                f.twin_version
            )));
        }
        if f.sweep_sha256 != sha || f.points != points || f.replicas != replicas {
            return Err(bad(format!(
                "a shard of another sweep than {first_origin} (its scenario, grid, replicas, seed or backend differ)"
            )));
        }
        if f.shard.count != count {
            return Err(bad(format!(
                "shard {}/{} of a sweep cut {} ways, but {first_origin} is 1 of {count}",
                f.shard.index, f.shard.count, f.shard.count
            )));
        }
        let slot = &mut seen[f.shard.index as usize];
        if let Some(other) = slot {
            return Err(ShardFileError::Set(format!("shard {}/{count} is there twice: {other} and {origin}; remove one", f.shard.index)));
        }
        *slot = Some(origin.clone());
        let want = Share { index: f.shard.index, count }.runs(points, replicas);
        let got: Vec<Run> = f.runs.iter().map(|r| Run { point: r.point, first: r.first, count: r.count }).collect();
        if want != got {
            return Err(bad(format!("its runs are not those of shard {}/{count} of this sweep: the file was changed", f.shard.index)));
        }
        let mut outcomes = match (&f.outcomes, bytes) {
            (None, _) => None,
            (Some(rec), None) => return Err(bad(format!("its outcomes file {} was not read", rec.file))),
            (Some(rec), Some(bytes)) => {
                let n: u64 = got.iter().map(|r| u64::from(r.count)).sum();
                if rec.replicas != n || bytes.len() as u64 != n * OUTCOME_FIELDS as u64 * 4 {
                    return Err(bad(format!(
                        "its outcomes file {} holds {} bytes; {n} replicas need {}",
                        rec.file,
                        bytes.len(),
                        n * OUTCOME_FIELDS as u64 * 4
                    )));
                }
                if sha256(&bytes) != rec.sha256 {
                    return Err(bad(format!("its outcomes file {} does not match its SHA-256: it was changed or cut short", rec.file)));
                }
                let all: Vec<Outcome> = bytes
                    .chunks_exact(OUTCOME_FIELDS * 4)
                    .map(|c| {
                        let mut f = [0f32; OUTCOME_FIELDS];
                        for (v, b) in f.iter_mut().zip(c.chunks_exact(4)) {
                            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        }
                        bytemuck::cast(f)
                    })
                    .collect();
                Some(all.into_iter())
            }
        };
        for (run, r) in got.into_iter().zip(&f.runs) {
            let tally = r.tally.tally().map_err(|m| bad(format!("point {}: {m}", r.point)))?;
            let outcomes = outcomes.as_mut().map(|it| it.by_ref().take(run.count as usize).collect());
            parts.push(RunPart { run, tally, outcomes });
        }
    }
    let missing: Vec<String> = seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| i.to_string()).collect();
    if !missing.is_empty() {
        let shown =
            if missing.len() > 20 { format!("{} … ({} in all)", missing[..20].join(", "), missing.len()) } else { missing.join(", ") };
        return Err(ShardFileError::Set(format!(
            "shard(s) {shown} of {count} are missing: rerun them (`twin sweep ... --shard I/{count}`) and merge again"
        )));
    }
    let swept = share::merge(points, replicas, parts).map_err(|e| ShardFileError::Set(e.to_string()))?;
    Ok(Merged { header, points, replicas, swept })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::model::tests::autoscaled;

    fn pts() -> Vec<PointParams> {
        let a = PointParams { steps: 60, ..autoscaled() };
        vec![a, PointParams { spot_share: 1.0, p_interrupt: 0.05, ..a }]
    }

    fn shards(count: u32, replicas: u32, keep: bool) -> Vec<(String, ShardFile, Option<Vec<u8>>)> {
        let header = serde_json::json!({"scenario": "test"});
        (0..count)
            .map(|index| {
                let share = Share { index, count };
                let parts = Engine::Cpu(1).sweep_share(&pts(), replicas, 0.99, keep, share, &mut |_| {}).unwrap();
                let bytes = keep.then(|| outcomes_bytes(parts.iter().flat_map(|p| p.outcomes.as_ref().unwrap())));
                let rec =
                    bytes.as_ref().map(|b| OutcomesRecord { file: "x.outcomes".into(), replicas: b.len() as u64 / 32, sha256: sha256(b) });
                let f = ShardFile::new("1.0", header.clone(), &pts(), replicas, share, &parts, rec);
                // Through the text, as a merge reads it.
                let name = ShardFile::file_name(share);
                let f = ShardFile::from_json(&f.to_json(), &name).unwrap();
                (name, f, bytes)
            })
            .collect()
    }

    #[test]
    fn a_whole_set_merges_into_one_run() {
        for (count, replicas, keep) in [(1, 1500, true), (3, 2500, false), (5, 2100, true), (9, 1000, false)] {
            let whole = Engine::Cpu(1).sweep(&pts(), replicas, 0.99, keep, &mut |_| {}).unwrap();
            let mut set = shards(count, replicas, keep);
            set.reverse();
            let m = merge("1.0", set).unwrap();
            assert_eq!(m.swept.tallies, whole.tallies);
            assert_eq!(m.swept.outcomes, whole.outcomes);
            assert_eq!(m.header["scenario"], "test");
        }
    }

    #[test]
    fn bad_sets_are_refused_naming_the_shard() {
        let set = shards(3, 3000, false);
        let err = |s: Vec<_>| merge("1.0", s).unwrap_err().to_string();
        let missing = err(set[..2].to_vec());
        assert!(missing.contains("shard(s) 2 of 3 are missing"), "{missing}");
        let mut twice = set.clone();
        twice.push(("copy.json".into(), set[1].1.clone(), None));
        let e = err(twice);
        assert!(e.contains("there twice") && e.contains("copy.json") && e.contains("sweep-shard-0001-of-0003.json"), "{e}");
        let mut foreign = set.clone();
        foreign[2].1.sweep_sha256 = "0".repeat(64);
        assert!(err(foreign).starts_with("sweep-shard-0002-of-0003.json: a shard of another sweep"));
        let e = merge("2.0", set.clone()).unwrap_err().to_string();
        assert!(e.contains("written by Twin 1.0, and this is Twin 2.0"), "{e}");
        let mut changed = set.clone();
        changed[0].1.runs[0].count -= 1;
        assert!(err(changed).contains("the file was changed"));
        let kept = shards(2, 1200, true);
        let mut cut = kept.clone();
        cut[1].2.as_mut().unwrap().pop();
        assert!(err(cut).contains("holds"));
        assert!(ShardFile::from_json("{}", "f.json").unwrap_err().to_string().starts_with("f.json: line 1"));
        assert!(is_sweep_shard(&set[0].1.to_json()) && !is_sweep_shard("{\"shard_format\": 1}"));
    }
}
