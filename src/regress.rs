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
pub(crate) fn shard_from(arg: Option<&str>) -> anyhow::Result<Option<Shard>> {
    if let Some(s) = arg {
        return Ok(Some(Shard::parse(s)?));
    }
    match (std::env::var("JOB_COMPLETION_INDEX"), std::env::var("TWIN_SHARDS")) {
        (Ok(i), Ok(n)) => Ok(Some(Shard::parse(&format!("{i}/{n}")).context("JOB_COMPLETION_INDEX and TWIN_SHARDS")?)),
        (Ok(_), Err(_)) => bail!("JOB_COMPLETION_INDEX is set but TWIN_SHARDS is not: set it to the Job's completions"),
        _ => Ok(None),
    }
}

/// `twin merge`: regression shards into one results file, or sweep shards
/// into the folder one sweep writes; exit 2 on a bad set.
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
                // In a folder, only shards count: a sweep's folder may hold its own sweep.json.
                for f in inside {
                    let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
                    if let Some(kind) = shard_kind(&text) {
                        files.push((f, kind, text));
                    }
                }
            } else {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                let kind = shard_kind(&text).unwrap_or(Kind::Regress);
                files.push((p.clone(), kind, text));
            }
        }
        if files.is_empty() {
            bail!(
                "no shard files in {}: give the folders the shards wrote into",
                a.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        if let Some((f, _, _)) = files.iter().find(|(_, k, _)| *k != files[0].1) {
            bail!(
                "{} and {} are shards of different kinds (a sweep's and a regression suite's): merge each set on its own",
                files[0].0.display(),
                f.display()
            );
        }
        if files[0].1 == Kind::Sweep {
            let paths: Vec<_> = files.into_iter().map(|(f, _, _)| f).collect();
            return crate::sweep::merge(&paths, &a.out, a.format);
        }
        let mut parts = Vec::new();
        for (f, _, text) in &files {
            parts.push((f.display().to_string(), ShardResults::from_json(text, &f.display().to_string())?));
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

/// What kind of shard a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sweep,
    Regress,
}

/// A JSON file's kind of shard, or `None` when it is no shard.
fn shard_kind(text: &str) -> Option<Kind> {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    if v.contains_key("sweep_shard_format") {
        Some(Kind::Sweep)
    } else if v.contains_key("shard_format") {
        Some(Kind::Regress)
    } else {
        None
    }
}

fn gate(a: &RegressArgs) -> anyhow::Result<ExitCode> {
    let (suite, sha) = read_suite(&a.suite)?;
    if a.job.emit_k8s_job.is_some() {
        return emit_job(a, &suite);
    }
    if let Some(shard) = shard_from(a.shard.as_deref())? {
        let Some(out) = &a.write_results else {
            bail!("a shard needs --write-results FILE or DIR: where its part of the results goes, for `twin merge`");
        };
        // A folder (as every pod of a Job is given) holds each shard under its own name.
        let named;
        let out = if out.is_dir() || out.to_string_lossy().ends_with('/') {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            let w = shard.count.to_string().len().max(4);
            named = out.join(format!("regress-shard-{:0w$}-of-{:0w$}.json", shard.index, shard.count));
            &named
        } else {
            out
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

/// `--emit-k8s-job`: the candidate's runs as an Indexed Job, each pod a
/// shard, the merge writing the results file a run writes.
fn emit_job(a: &RegressArgs, suite: &SuiteSpec) -> anyhow::Result<ExitCode> {
    if a.baseline_ref.is_some() || a.baseline.is_some() || a.candidate.is_some() || a.shard.is_some() {
        bail!(
            "--emit-k8s-job runs the candidate's side only: leave out --baseline-ref, --baseline, --candidate and --shard, and judge the merged results with `twin regress --candidate FILE --baseline ...`"
        );
    }
    let dir = a.suite.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut inputs = crate::k8s_job::Inputs::new(dir);
    let name = a.suite.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let at = inputs.add(dir, &name, "the suite")?;
    for e in &suite.scenarios {
        inputs.scenario(&dir.join(&e.file))?;
        for m in &e.manifests {
            inputs.add(dir, m, &format!("{}: manifests", e.display_name()))?;
        }
        if let Some(p) = e.profile.as_ref().filter(|p| p.ends_with(".toml")) {
            inputs.add(dir, p, &format!("{}: profile", e.display_name()))?;
        }
        for p in e.policies.iter().flatten().chain(e.policy_data.iter()) {
            inputs.add(dir, p, &format!("{}: policies", e.display_name()))?;
        }
    }
    let mut args = vec!["regress".to_string(), "--suite".into(), at, "--write-results".into(), "{OUT}/".into()];
    if let Some(j) = a.jobs {
        args.extend(["--jobs".into(), j.to_string()]);
    }
    crate::k8s_job::emit(&a.job, crate::k8s_job::Work { kind: "regress", shard_args: args, merged: "results.json", gpus: 0, inputs })
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
