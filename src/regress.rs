//! `twin regress`: run a suite on the working tree, run or read its
//! baseline, judge every KPI seed by seed, and say pass (0), regression (1)
//! or error (2).

use crate::args::{MergeArgs, RegressArgs};
use crate::suite_run::{Place, run_suite};
use anyhow::{Context, bail};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use twin_regress::compare::compare;
use twin_regress::results::Results;
use twin_regress::shard::{Shard, ShardResults};
use twin_regress::suite::SuiteSpec;

/// Exit code of a suite with a regression (or a KPI past its limit).
const EXIT_REGRESSION: u8 = 1;

/// Runs the gate; every error becomes exit 2 after it is printed.
pub fn regress(a: RegressArgs) -> anyhow::Result<ExitCode> {
    match gate(&a) {
        Ok(code) => Ok(code),
        Err(e) => {
            // Any error is exit 2, never 1: CI must tell "worse" from "could not tell".
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(crate::EXIT_BAD_INPUT))
        }
    }
}

/// The suite, and its text's SHA-256 (what shards are checked against).
fn read_suite(path: &Path) -> anyhow::Result<(SuiteSpec, String)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the suite {}", path.display()))?;
    Ok((SuiteSpec::from_toml(&text, &path.display().to_string())?, twin_sim::scenario::hex_sha256(text.as_bytes())))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    twin_replay::atomic::write_text(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The shard to run: `--shard`, else `JOB_COMPLETION_INDEX` with `TWIN_SHARDS`.
fn shard_of(a: &RegressArgs) -> anyhow::Result<Option<Shard>> {
    if let Some(s) = &a.shard {
        return Ok(Some(Shard::parse(s)?));
    }
    match (std::env::var("JOB_COMPLETION_INDEX"), std::env::var("TWIN_SHARDS")) {
        (Ok(i), Ok(n)) => Ok(Some(Shard::parse(&format!("{i}/{n}")).context("JOB_COMPLETION_INDEX and TWIN_SHARDS")?)),
        (Ok(_), Err(_)) => bail!("JOB_COMPLETION_INDEX is set but TWIN_SHARDS is not: set it to the Job's completions"),
        _ => Ok(None),
    }
}

/// `twin merge`: the shards into one results file; exit 2 on a bad set.
pub fn merge(a: MergeArgs) -> anyhow::Result<ExitCode> {
    let run = || -> anyhow::Result<()> {
        let mut files = Vec::new();
        for p in &a.inputs {
            if p.is_dir() {
                let mut inside: Vec<_> = std::fs::read_dir(p)
                    .with_context(|| format!("cannot list {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "json"))
                    .collect();
                inside.sort();
                files.extend(inside);
            } else {
                files.push(p.clone());
            }
        }
        let mut parts = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            parts.push((f.display().to_string(), ShardResults::from_json(&text, &f.display().to_string())?));
        }
        let merged = twin_regress::shard::merge(&parts)?;
        write(&a.out, &merged.to_json())?;
        eprintln!("merged {} shard(s) into {}", parts.len(), a.out.display());
        Ok(())
    };
    Ok(match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::EXIT_BAD_INPUT)
        }
    })
}

fn gate(a: &RegressArgs) -> anyhow::Result<ExitCode> {
    let (suite, sha) = read_suite(&a.suite)?;
    if let Some(shard) = shard_of(a)? {
        let Some(out) = &a.write_results else {
            bail!("a shard needs --write-results FILE: where its part of the results goes, for `twin merge`");
        };
        let started = Instant::now();
        let part = crate::suite_run::pool(a.jobs)?.install(|| crate::suite_run::run_suite_shard(&a.suite, &suite, &sha, shard))?;
        write(out, &part.to_json())?;
        eprintln!("shard {shard}: {} run(s) in {:.1} s; wrote {}", part.items.len(), started.elapsed().as_secs_f64(), out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let pool = crate::suite_run::pool(a.jobs)?;
    let threads = pool.current_num_threads();
    let runs = suite.scenarios.len() * suite.seeds.count as usize;

    let started = Instant::now();
    let candidate = match &a.candidate {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read the candidate {}", file.display()))?;
            Results::from_json(&text, &file.display().to_string())?
        }
        None => {
            let c = pool.install(|| run_suite(&a.suite, &suite, &Place::Disk))?;
            eprintln!(
                "candidate: {runs} runs ({} scenarios × {} seeds) in {:.1} s on {threads} threads",
                suite.scenarios.len(),
                suite.seeds.count,
                started.elapsed().as_secs_f64()
            );
            c
        }
    };
    if let Some(path) = &a.write_results {
        write(path, &candidate.to_json())?;
        eprintln!("wrote {}", path.display());
    }

    let baseline = match (&a.baseline, &a.baseline_ref) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read the baseline {}", file.display()))?;
            Some(Results::from_json(&text, &file.display().to_string())?)
        }
        (None, Some(reference)) => {
            let started = Instant::now();
            let suite_dir = a.suite.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let copy = crate::git_tree::copy(suite_dir, reference)?;
            let workdir =
                copy.workdir.canonicalize().with_context(|| format!("the repository's working tree {}", copy.workdir.display()))?;
            let suite_abs = a.suite.canonicalize().with_context(|| format!("the suite {}", a.suite.display()))?;
            let Ok(rel) = suite_abs.strip_prefix(&workdir) else {
                bail!("the suite {} is outside the repository at {}", a.suite.display(), workdir.display());
            };
            let base_file = copy.dir.path().join(rel);
            if !base_file.is_file() {
                bail!("{reference} has no {}: the suite is new; give a stored baseline with --baseline FILE", rel.display());
            }
            let (mut base_suite, _) = read_suite(&base_file).with_context(|| format!("the suite as it stood at {reference}"))?;
            // Both sides run the candidate's seeds, so a pull request may change them.
            base_suite.seeds = suite.seeds.clone();
            let place = Place::Tree { root: copy.dir.path().to_path_buf(), outside: workdir.clone() };
            let results = pool
                .install(|| run_suite(&base_file, &base_suite, &place))
                .with_context(|| format!("the baseline at {reference} ({})", &copy.commit[..12]))?;
            eprintln!(
                "baseline {reference} ({}): {} runs in {:.1} s on {threads} threads",
                &copy.commit[..12],
                base_suite.scenarios.len() * base_suite.seeds.count as usize,
                started.elapsed().as_secs_f64()
            );
            if let Some(path) = &a.write_baseline {
                write(path, &results.to_json())?;
                eprintln!("wrote {}", path.display());
            }
            Some(results)
        }
        (None, None) => None,
    };
    let Some(baseline) = baseline else {
        out!("{}", medians(&candidate));
        eprintln!("no baseline (--baseline-ref REF or --baseline FILE): nothing judged");
        return Ok(ExitCode::SUCCESS);
    };

    let comparison = compare(&suite.name, &suite.kpis(), &baseline, &candidate, suite.alpha)?;
    out!("{}", twin_regress::report::table::render(&comparison));
    if let Some(path) = &a.junit {
        write(path, &twin_regress::report::junit::render(&comparison))?;
    }
    if let Some(path) = &a.markdown {
        write(path, &twin_regress::report::markdown::render(&comparison))?;
    }
    Ok(if comparison.passed() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REGRESSION) })
}

/// Each scenario's KPI medians over its seeds, when there is nothing to compare with.
fn medians(r: &Results) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for s in &r.scenarios {
        let _ = writeln!(out, "{} ({} seeds)", s.name, s.runs.len());
        let names: std::collections::BTreeSet<&String> = s.runs.iter().flat_map(|run| run.kpis.keys()).collect();
        for k in names {
            let v: Vec<f64> = s.runs.iter().filter_map(|run| run.kpis.get(k).copied()).collect();
            let m = twin_regress::verdict::median(&v);
            let _ = writeln!(out, "  {k:<16} {m:>14.4}");
        }
    }
    out
}
