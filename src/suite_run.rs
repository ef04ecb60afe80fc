//! Running a regression suite: every scenario with every seed, on all cores,
//! each run's KPIs kept in suite and seed order (so the results are the same
//! bytes at any thread count).

use anyhow::{Context, bail};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use twin_inputs::{Loaded, ScenarioText, Source};
use twin_regress::measure;
use twin_regress::results::{RESULTS_FORMAT, Results, RunResult, ScenarioResults};
use twin_regress::suite::{ScenarioEntry, SuiteSpec};
use twin_scheduler::Profile;
use twin_scheduler::experiment::{FillOptions, fill};
use twin_sim::placement::Placement;
use twin_sim::policy::PolicyHook;
use twin_sim::scenario::Dur;
use twin_sim::scenario::spec::ProfileChoice;
use twin_sim::{Run, RunOptions};

/// Where a suite's files are: its folder on disk, or a copy of a
/// revision's tree (whose paths that lead outside it are taken from the
/// working tree).
#[derive(Clone, Debug)]
pub enum Place {
    /// Files on disk, relative to the suite's folder.
    Disk,
    /// A copy of a revision: its root and the working tree it came from.
    Tree {
        /// The copy.
        root: PathBuf,
        /// The working tree.
        outside: PathBuf,
    },
}

impl Place {
    fn source_of(&self, file: &Path) -> Source {
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        match self {
            Place::Disk => Source::Dir(dir),
            Place::Tree { root, outside } => Source::Tree { dir, root: root.clone(), outside: outside.clone() },
        }
    }
}

/// A scenario of the suite, loaded and ready to run.
struct Prepared {
    name: String,
    loaded: Loaded,
    sha256: String,
}

/// Loads one entry of the suite: its scenario with the suite's manifests,
/// profile and horizon.
fn prepare(suite_file: &Path, place: &Place, e: &ScenarioEntry) -> anyhow::Result<Prepared> {
    let suite_source = place.source_of(suite_file);
    let path = suite_source.resolve(&e.file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: scenarios: file = \"{}\"", suite_file.display(), e.file))?;
    let origin = e.file.clone();
    let manifests: Vec<PathBuf> = e.manifests.iter().map(|m| suite_source.resolve(m)).collect();
    let loaded = twin_inputs::load_text_with(ScenarioText { origin, text, source: place.source_of(&path) }, &manifests)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| format!("scenario {} of {}", e.display_name(), suite_file.display()))?;
    let mut loaded = loaded;
    let mut digest = Sha256::new();
    digest.update(loaded.scenario.sha256.as_bytes());
    if let Some(p) = &e.profile {
        let choice = if p.ends_with(".toml") {
            let file = suite_source.resolve(p);
            let text = std::fs::read_to_string(&file).with_context(|| format!("{}: profile = \"{p}\"", suite_file.display()))?;
            digest.update(text.as_bytes());
            let spec: twin_scheduler::ProfileSpec = toml::from_str(&text).with_context(|| format!("profile file {}", file.display()))?;
            Profile::from_spec(&spec)?;
            ProfileChoice::Custom(spec)
        } else {
            Profile::builtin(p).with_context(|| format!("{}: profile = \"{p}\"", suite_file.display()))?;
            digest.update(format!("profile={p}").as_bytes());
            ProfileChoice::Builtin(p.clone())
        };
        match &mut loaded.scenario.spec.pod_trace {
            Some(t) => t.profiles = vec![choice.clone()],
            None => loaded.scenario.spec.scheduler.profile = Some(choice),
        }
    }
    if let Some(files) = &e.policies {
        if loaded.pod_trace.is_some() {
            bail!("{}: {}: `policies` is for timed runs; a pod-trace experiment asks no policy", suite_file.display(), e.display_name());
        }
        let spec = twin_sim::scenario::spec::PoliciesSpec { files: files.clone(), data: e.policy_data.clone() };
        let sources = twin_inputs::policies::PolicySources::read(&suite_source, &spec)
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("{}: {}: policies", suite_file.display(), e.display_name()))?;
        sources
            .compile()
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("{}: {}: policies", suite_file.display(), e.display_name()))?;
        // The texts, not where they lay: a copy of a revision hashes as its checkout does.
        for text in sources.files.iter().map(|(_, t)| t).chain(sources.data.iter()) {
            digest.update(Sha256::digest(text.as_bytes()));
        }
        loaded.scenario.spec.policies = Some(spec);
        loaded.policies = Some(sources);
    }
    if let Some(h) = &e.horizon {
        let d = twin_sim::scenario::duration::parse_duration(h)
            .map_err(|m| anyhow::anyhow!("{}: horizon = \"{h}\": {m}", suite_file.display()))?;
        if d.is_zero() {
            bail!("{}: horizon = \"{h}\": a run needs some simulated time", suite_file.display());
        }
        loaded.scenario.spec.horizon = Dur(d);
        digest.update(format!("horizon={h}").as_bytes());
    }
    if let Some(t) = &loaded.scenario.spec.pod_trace
        && t.profiles.len() != 1
    {
        bail!(
            "{}: {} is a pod-trace experiment over {} profiles; give its suite entry one `profile`, such as \"fgd\"",
            suite_file.display(),
            e.file,
            if t.profiles.is_empty() { "all".to_string() } else { t.profiles.len().to_string() }
        );
    }
    Ok(Prepared { name: e.display_name(), loaded, sha256: digest.finalize().iter().map(|b| format!("{b:02x}")).collect() })
}

/// What every run of a prepared scenario shares: its name, inputs, horizon
/// (0 for a pod-trace experiment) and currency.
fn header(p: &Prepared) -> twin_regress::shard::ScenarioHeader {
    twin_regress::shard::ScenarioHeader {
        name: p.name.clone(),
        inputs_sha256: p.sha256.clone(),
        horizon_s: if p.loaded.pod_trace.is_some() { 0.0 } else { p.loaded.scenario.spec.horizon.get().as_secs_f64() },
        currency: p.loaded.scenario.spec.billing.currency.clone(),
    }
}

/// One run's KPIs.
fn run_one(p: &Prepared, seed: u64) -> anyhow::Result<RunResult> {
    let scenario = &p.loaded.scenario;
    if let (Some(spec), Some(trace)) = (&scenario.spec.pod_trace, &p.loaded.pod_trace) {
        let mut profile = match &spec.profiles[0] {
            ProfileChoice::Builtin(n) => Profile::builtin(n)?,
            ProfileChoice::Custom(s) => Profile::from_spec(s)?,
        };
        let report =
            fill(&trace.nodes, &trace.pods, &mut profile, &FillOptions { fill_to: spec.fill_to, report_every: spec.report_every, seed });
        return Ok(measure::of_fill(&report, seed));
    }
    let policy: Option<Box<dyn PolicyHook + Send>> = match &p.loaded.policies {
        Some(pol) => Some(Box::new(pol.compile()?)),
        None => None,
    };
    let placement: Option<Box<dyn Placement + Send>> = match &scenario.spec.scheduler.external {
        Some(ext) => Some(Box::new(crate::external::ExternalScheduler::start(ext, &p.loaded.source, scenario)?)),
        None => None,
    };
    let options = RunOptions { record_requests: false, record_ledger: false, record_series: false, record_decisions: false };
    let mut run = Run::with_extensions(scenario, seed, options, placement, policy).with_context(|| format!("building {}", p.name))?;
    run.advance_to(run.horizon());
    let out = run.finish().with_context(|| format!("{} with seed {seed}", p.name))?;
    Ok(measure::of_summary(&out.summary, seed))
}

/// Runs every scenario of `suite` (read from `suite_file`, its files where
/// `place` says) with every seed, on the current rayon pool.
pub fn run_suite(suite_file: &Path, suite: &SuiteSpec, place: &Place) -> anyhow::Result<Results> {
    let prepared: Vec<Prepared> = suite.scenarios.iter().map(|e| prepare(suite_file, place, e)).collect::<anyhow::Result<_>>()?;
    let seeds = suite.seed_list();
    let work: Vec<(usize, u64)> = (0..prepared.len()).flat_map(|i| seeds.iter().map(move |&s| (i, s))).collect();
    let runs: Vec<RunResult> = work.par_iter().map(|&(i, seed)| run_one(&prepared[i], seed)).collect::<anyhow::Result<_>>()?;
    let mut runs = runs.into_iter();
    let scenarios = prepared
        .iter()
        .map(|p| {
            let h = header(p);
            ScenarioResults {
                name: h.name,
                inputs_sha256: h.inputs_sha256,
                horizon_s: h.horizon_s,
                currency: h.currency,
                runs: runs.by_ref().take(seeds.len()).collect(),
            }
        })
        .collect();
    Ok(Results {
        format_version: RESULTS_FORMAT,
        twin_version: env!("CARGO_PKG_VERSION").to_string(),
        suite: suite.name.clone(),
        seed_set: suite.seeds.set,
        seeds,
        scenarios,
    })
}

/// A pool of `jobs` threads (default: all cores) for a suite's runs.
pub fn pool(jobs: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = jobs {
        pool = pool.num_threads(j);
    }
    Ok(pool.build()?)
}

/// [`run_suite`] on the working tree's files, on `jobs` threads (default: all cores).
pub fn run_in_pool(suite_file: &Path, suite: &SuiteSpec, jobs: Option<usize>) -> anyhow::Result<Results> {
    pool(jobs)?.install(|| run_suite(suite_file, suite, &Place::Disk))
}

/// One shard of [`run_suite`]: every scenario is prepared (their headers
/// must agree across shards), and only the shard's (scenario, seed) items run.
pub fn run_suite_shard(
    suite_file: &Path,
    suite: &SuiteSpec,
    suite_sha256: &str,
    shard: twin_regress::shard::Shard,
) -> anyhow::Result<twin_regress::shard::ShardResults> {
    use twin_regress::shard::{ItemResult, SHARD_FORMAT, ShardResults};
    let prepared: Vec<Prepared> = suite.scenarios.iter().map(|e| prepare(suite_file, &Place::Disk, e)).collect::<anyhow::Result<_>>()?;
    let seeds = suite.seed_list();
    let work: Vec<(usize, usize, u64)> = (0..prepared.len())
        .flat_map(|i| seeds.iter().map(move |&s| (i, s)))
        .enumerate()
        .filter(|(k, _)| shard.owns(*k))
        .map(|(k, (i, s))| (k, i, s))
        .collect();
    let items: Vec<ItemResult> = work
        .par_iter()
        .map(|&(k, i, seed)| run_one(&prepared[i], seed).map(|run| ItemResult { item: k, run }))
        .collect::<anyhow::Result<_>>()?;
    Ok(ShardResults {
        shard_format: SHARD_FORMAT,
        twin_version: env!("CARGO_PKG_VERSION").to_string(),
        suite_sha256: suite_sha256.to_string(),
        suite: suite.name.clone(),
        seed_set: suite.seeds.set,
        seeds,
        scenarios: prepared.iter().map(header).collect(),
        shard,
        items,
    })
}
