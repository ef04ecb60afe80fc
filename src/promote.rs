//! `twin promote` and `twin rollback`: a suite that passes its regression
//! gate is rendered into a GitOps repository and committed; a rollback
//! reverts the last promotion (docs/promote.md).
//!
//! The gate runs the suite on the working tree and judges it against the
//! results the repository's last promotion stored (the first promotion
//! against the suite's own limits), and asks the admission policies about
//! every workload of the fleet. Only then is anything written.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use twin_gitops::Env;
use twin_gitops::layout::{self, Promotion};
use twin_gitops::repo::{Checkout, Outcome, PATH_TRAILER, PROMOTION_TRAILER};
use twin_regress::compare::{Comparison, compare};
use twin_regress::results::Results;
use twin_regress::suite::SuiteSpec;
use twin_regress::verdict::Verdict;

mod inputs;

use inputs::{What, admission_gate};

/// Exit status when the gate fails (or is inconclusive): nothing was committed.
const EXIT_GATE: u8 = 1;

/// The environment promoted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EnvArg {
    /// `apps/staging`: constraints warn, one extender replica.
    Staging,
    /// `apps/production`: constraints deny.
    Production,
}

impl From<EnvArg> for Env {
    fn from(e: EnvArg) -> Env {
        match e {
            EnvArg::Staging => Env::Staging,
            EnvArg::Production => Env::Production,
        }
    }
}

/// `twin promote`.
#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// The suite: its scenarios, seeds and KPIs, and its `[promote]` section.
    #[arg(long, default_value = "regress.toml", value_name = "FILE")]
    pub suite: PathBuf,
    /// A clone of the GitOps repository, checked out on the branch to commit to.
    #[arg(long, value_name = "REPO")]
    pub to: PathBuf,
    /// The folder inside the repository that Twin writes under.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: String,
    /// The branch to commit to; it must be the one checked out. Default: the one checked out.
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// The environment: its overlay and its baseline.
    #[arg(long, value_enum, default_value = "staging")]
    pub env: EnvArg,
    /// Threads for the suite's runs (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

/// `twin rollback`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The GitOps repository's clone.
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// The environment whose last promotion is reverted.
    #[arg(long, value_enum, default_value = "staging")]
    pub env: EnvArg,
    /// The branch; it must be the one checked out.
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// The folder the promotions were written under (as `twin promote --path`).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: String,
}

/// Exit status for an error or a refusal (a dirty tree, a detached HEAD, bad input).
const EXIT_ERROR: u8 = 2;

/// `twin promote`: exit 0 promoted (or nothing to promote), 1 the gate
/// failed or paused, 2 an error or a refusal.
pub fn promote(a: PromoteArgs) -> anyhow::Result<ExitCode> {
    Ok(promote_or_refuse(a).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_ERROR)
    }))
}

/// `twin rollback`: exit 0 reverted, 1 nothing to revert, 2 an error or a refusal.
pub fn rollback(a: RollbackArgs) -> anyhow::Result<ExitCode> {
    Ok(rollback_or_refuse(a).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_ERROR)
    }))
}

fn promote_or_refuse(a: PromoteArgs) -> anyhow::Result<ExitCode> {
    let env: Env = a.env.into();
    let suite_text = std::fs::read_to_string(&a.suite).with_context(|| format!("cannot read the suite {}", a.suite.display()))?;
    let suite = SuiteSpec::from_toml(&suite_text, &a.suite.display().to_string())?;
    let Some(spec) = suite.promote.clone() else {
        bail!("{}: no [promote] section: name the profile, policies and fleet to promote (docs/promote.md)", a.suite.display());
    };
    let dir = a.suite.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let prefix = normalise(&a.path)?;
    // Refusals first: a dirty or detached repository fails before minutes of runs.
    let checkout = Checkout::open(&a.to, a.branch.as_deref())?;

    let mut what = What::read(&dir, &spec)?;
    let started = Instant::now();
    let candidate = crate::suite_run::run_in_pool(&a.suite, &suite, a.jobs)?;
    eprintln!(
        "{}: {} runs in {:.1} s",
        suite.name,
        candidate.scenarios.iter().map(|s| s.runs.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );

    let results_rel = join(&prefix, &layout::results_path(env));
    let stored = checkout.read_at_head(&results_rel)?;
    let first = "the suite's own limits (the first promotion)".to_string();
    let (mut baseline, mut against) = match &stored {
        Some(text) => (
            Results::from_json(text, &format!("{}:{results_rel}", a.to.display()))?,
            match checkout.last_promotion(env, &prefix)? {
                Some((id, _)) => format!("the last promotion to {} ({})", env.as_str(), &id.to_string()[..12]),
                None => format!("{results_rel} at the branch's tip"),
            },
        ),
        None => (candidate.clone(), first.clone()),
    };
    let mut judged_first = stored.is_none();
    let comparison = match compare(&suite.name, &suite.kpis(), &baseline, &candidate, suite.alpha) {
        Ok(c) => c,
        // Stored results of another seed set or other scenarios cannot be
        // paired: judge as a first promotion, and say so, rather than refuse forever.
        Err(e) => {
            eprintln!("note: the stored {results_rel} cannot be paired with this suite ({e}); judging against the suite's own limits");
            baseline = candidate.clone();
            against = first;
            judged_first = true;
            compare(&suite.name, &suite.kpis(), &baseline, &candidate, suite.alpha)?
        }
    };
    let (table, failed, mut inconclusive) = analysis(&comparison, judged_first);
    out!("Regression gate against {against}:\n{table}");
    // What could not be judged (a scenario new to the suite, a KPI some runs
    // lack) is Inconclusive: the promotion pauses until a person looks.
    if !judged_first {
        for n in &comparison.notes {
            outln!("Inconclusive  {n}");
            inconclusive += 1;
        }
    }

    if failed > 0 {
        outln!("promotion aborted: {failed} KPI(s) Failed; nothing committed");
        return Ok(ExitCode::from(EXIT_GATE));
    }
    if inconclusive > 0 {
        outln!("promotion paused: {inconclusive} KPI(s) Inconclusive; nothing committed");
        return Ok(ExitCode::from(EXIT_GATE));
    }

    // The workload changes the twin measured, on the suite's seeds.
    let mut tuned = Vec::new();
    for t in &spec.tune {
        let started = Instant::now();
        let result = crate::tune::tune(&what.fleet, t, &suite.seed_list(), &what.manifests)?;
        outln!("Tuned         {} ({:.1} s)", result.line(), started.elapsed().as_secs_f64());
        tuned.push(result);
    }
    let workload_patches: Vec<_> = tuned.iter().filter_map(|t| t.patch.clone()).collect();

    // Admission sees the workloads as they will run: tuned replica counts included.
    let mut workloads = what.workloads.clone();
    for t in tuned.iter().filter(|t| t.patch.is_some()) {
        if let (Some(w), Some(crate::tune::Setting::Replicas(r))) =
            (workloads.iter_mut().find(|w| w.name == t.workload), t.best.as_ref().map(|b| b.setting))
        {
            w.replicas = r;
        }
    }
    let denials = admission_gate(&mut what, &workloads)?;
    for d in &denials {
        outln!("Failed        admission  {d}");
    }
    if !denials.is_empty() {
        outln!("promotion aborted: {} workload(s) denied; nothing committed", denials.len());
        return Ok(ExitCode::from(EXIT_GATE));
    }
    outln!("Admission: {} workload(s) allowed by {}", workloads.len(), what.admission_names());

    let promotion = Promotion {
        env,
        extender: what.extender.clone(),
        admission: what.admission.clone(),
        parameters: what.parameters.clone(),
        pools: what.pools.clone(),
        catalogue: what.catalogue.clone(),
        node_class: spec.node_class.clone(),
        results_json: candidate.to_json(),
        workloads: if spec.tune.is_empty() { Vec::new() } else { what.manifest_files.clone() },
        workload_patches,
    };
    let rendered = layout::render(&promotion)?;
    for n in &rendered.notes {
        eprintln!("note: {n}");
    }
    let owned: Vec<String> = layout::owned(env);
    let message = message(&suite, env, &prefix, &against, &comparison, &candidate, &what, &tuned);
    match checkout.commit_files(&prefix, &owned, &rendered.files, &message)? {
        Outcome::NothingToPromote => {
            outln!("nothing to promote: {} already holds exactly this for {}", checkout.branch, env.as_str());
        }
        Outcome::Committed { commit, changed } => {
            outln!(
                "promoted to {} on {} as {} ({changed} file(s) changed); push it to deploy",
                env.as_str(),
                checkout.branch,
                &commit[..12]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rollback_or_refuse(a: RollbackArgs) -> anyhow::Result<ExitCode> {
    let env: Env = a.env.into();
    let prefix = normalise(&a.path)?;
    let checkout = Checkout::open(&a.repo, a.branch.as_deref())?;
    match checkout.rollback(env, &prefix)? {
        Some((reverted, summary, new)) => {
            outln!("reverted {} \"{summary}\" as {} on {}; push it to roll back", &reverted[..12], &new[..12], checkout.branch);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("error: {} has no promotion to {} left to revert", checkout.branch, env.as_str());
            Ok(ExitCode::from(EXIT_GATE))
        }
    }
}

/// `--path` as a clean relative path inside the repository: no absolute
/// path, no `..`; `.` and empty segments dropped (`""` is the root).
fn normalise(path: &str) -> anyhow::Result<String> {
    if Path::new(path).is_absolute() {
        bail!("--path {path}: give a folder relative to the repository's root");
    }
    let mut parts = Vec::new();
    for seg in path.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => bail!("--path {path}: `..` would leave the repository"),
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

fn join(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() { rel.to_string() } else { format!("{prefix}/{rel}") }
}

/// Each KPI in Argo Rollouts' words: Successful, Failed or Inconclusive.
/// A KPI no seed measured on one side (NaN medians) is Inconclusive.
fn analysis(c: &Comparison, first: bool) -> (String, usize, usize) {
    let mut out = String::new();
    let (mut failed, mut inconclusive) = (0, 0);
    for r in &c.rows {
        let j = &r.judgement;
        let word = if j.base_median.is_nan() || j.candidate_median.is_nan() || j.n == 0 {
            inconclusive += 1;
            "Inconclusive"
        } else if j.verdict.fails() {
            failed += 1;
            "Failed"
        } else {
            "Successful"
        };
        let why = match j.verdict {
            Verdict::PastLimit => "past its limit".to_string(),
            Verdict::Regression => format!("worse by {:+.1}%", j.relative() * 100.0),
            Verdict::Improvement => format!("better by {:+.1}%", j.relative() * 100.0),
            Verdict::Same if first && r.kpi.floor.is_some() => "within its limit".to_string(),
            Verdict::Same if first => "no baseline yet".to_string(),
            Verdict::Same => format!("~ (p={:.3} n={})", j.p_adjusted, j.n),
        };
        let _ =
            writeln!(out, "{word:<13} {:<28} {:<16} {:>14.4} → {:<14.4} {why}", r.scenario, r.kpi.name, j.base_median, j.candidate_median);
    }
    (out, failed, inconclusive)
}

/// The commit message: the verdict, the inputs' hashes, Twin's version, and
/// the trailers that mark a promotion.
#[allow(clippy::too_many_arguments)]
fn message(
    suite: &SuiteSpec,
    env: Env,
    prefix: &str,
    against: &str,
    c: &Comparison,
    candidate: &Results,
    what: &What,
    tuned: &[crate::tune::Tuned],
) -> String {
    let kpis = c.rows.len();
    let mut m = format!("Promote {} to {}: {kpis} KPIs Successful\n\n", suite.name, env.as_str());
    let _ = writeln!(m, "Regression gate against {against}: every KPI Successful,");
    let improved = c.rows.iter().filter(|r| r.judgement.verdict == Verdict::Improvement).count();
    let _ = writeln!(m, "{improved} better, none worse, over {} seeds per scenario.", c.seeds);
    let _ = writeln!(m, "Scheduler profile: {}. Admission: {}.", what.profile_label, what.admission_names());
    if !tuned.is_empty() {
        let _ = writeln!(m, "\nWorkload changes measured over the suite's seeds:");
        for t in tuned {
            let _ = writeln!(m, "  {}", t.line());
        }
    }
    let _ = writeln!(m, "\nInputs (sha256):");
    for s in &candidate.scenarios {
        let _ = writeln!(m, "  {:<28} {}", s.name, &s.inputs_sha256[..16.min(s.inputs_sha256.len())]);
    }
    let _ = writeln!(m, "  {:<28} {}", "fleet", &what.fleet_sha256[..16.min(what.fleet_sha256.len())]);
    let _ = writeln!(m, "\n{PROMOTION_TRAILER}: {}", env.as_str());
    let _ = writeln!(m, "{PATH_TRAILER}: {}", if prefix.is_empty() { "." } else { prefix });
    let _ = writeln!(m, "Twin-Suite: {}", suite.name);
    let _ = writeln!(m, "Twin-Version: {}", env!("CARGO_PKG_VERSION"));
    m
}

#[cfg(test)]
mod tests {
    use super::{join, normalise};

    #[test]
    fn paths_stay_inside_the_repository() {
        assert_eq!(normalise(".").unwrap(), "");
        assert_eq!(normalise("./clusters//east/").unwrap(), "clusters/east");
        assert_eq!(join(&normalise("./x").unwrap(), "twin/staging/results.json"), "x/twin/staging/results.json");
        assert!(normalise("../elsewhere").unwrap_err().to_string().contains("would leave the repository"));
        assert!(normalise("a/../../b").is_err());
        assert!(normalise("/etc").unwrap_err().to_string().contains("relative"));
    }
}
