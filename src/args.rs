//! Command-line flags.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A digital twin of AI compute fabrics: try a scheduler, an autoscaler or a
/// purchasing plan on a model of your GPU fleet before you change the fleet.
#[derive(Parser, Debug)]
#[command(name = "twin", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and print its report.
    Run(RunArgs),
    /// Check scenario files and report every problem with its line and column.
    Validate(ValidateArgs),
    /// List the built-in scenario library.
    Scenarios(ScenariosArgs),
    /// Measure the engine and a fleet-scale scenario on this machine.
    Bench(BenchArgs),
    /// Work with Rego policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Tell the story of a job, a request, a node or a service from a run folder.
    Explain(ExplainArgs),
    /// Read real GPU telemetry: import it to Parquet, or summarise it.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Record this machine's NVIDIA GPUs through NVML to canonical Parquet.
    Record(RecordArgs),
    /// What-if sweep: many replicas of one service's coarse model over a grid of parameters, on the GPU or all CPU cores.
    Sweep(SweepArgs),
    /// The terminal UI: watch a run, compare schedulers, try a what-if, read a trace.
    Tui(TuiArgs),
    /// The regression gate: run a suite on the working tree and on a baseline, judge each KPI seed by seed.
    /// Exit 0: pass; 1: a regression or a KPI past its limit; 2: an error.
    Regress(RegressArgs),
    /// Serve a scheduler profile to kube-scheduler as a scheduler extender: filter and prioritize over HTTP (docs/extender.md).
    Extender(ExtenderArgs),
    /// Run beside a real fleet: follow live telemetry and the cluster's pods and nodes, and log where Twin's
    /// scheduler would have placed a pod elsewhere, or found a GPU idle (docs/shadow.md).
    Shadow(ShadowArgs),
    /// Promote what passed the regression gate to a GitOps repository: the extender, the scheduler
    /// configuration, Gatekeeper templates, NodePools and the results, in one commit (docs/promote.md).
    /// Exit 0: promoted, or nothing to promote; 1: the gate failed or paused; 2: an error.
    Promote(crate::promote::PromoteArgs),
    /// Revert the last promotion to an environment that is not yet reverted, as a new commit.
    Rollback(crate::promote::RollbackArgs),
    /// Merge the shards of `twin regress --shard I/N` into the results one run writes, or those of
    /// `twin sweep --shard I/N` into the folder one sweep writes (docs/cluster.md).
    Merge(MergeArgs),
}

/// `twin extender`.
#[derive(Args, Debug)]
pub struct ExtenderArgs {
    /// The address to serve on; port 0 picks a free port. The bound address is printed to stderr: `listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:8888", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// The scheduler profile that decides: a built-in name, or a profile file (TOML, a `.toml` path or any existing file).
    #[arg(long, default_value = "default", value_name = "NAME|FILE")]
    pub profile: String,
    /// Prices per node-hour by instance type (`node.kubernetes.io/instance-type`), for nodes without a
    /// `twin.dev/price-per-hour` label: a TOML or JSON (`.json`) table of names to numbers.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Placement policies (Rego v1, package `twin.placement`): a folder of `.rego` files (with an optional
    /// `data.json`) or a file; repeatable. A node a policy denies is failed with the policy's message.
    #[arg(long, value_name = "DIR|FILE")]
    pub policies: Vec<PathBuf>,
    /// The cluster's nodes, for `nodeCacheCapable: true`: a NodeList as `kubectl get nodes -o json` (or
    /// `-o yaml`, for a `.yaml` file) writes it; read at start and again whenever it changes (checked each second).
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// Seconds a connection may take to send a request's head, and then its body; a connection idle that long
    /// between requests is closed too.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = crate::extender::parse_timeout)]
    pub read_timeout: std::time::Duration,
}

/// `twin shadow`.
#[derive(Args, Debug)]
pub struct ShadowArgs {
    /// A live telemetry source, repeatable: `dcgm:URL` (a DCGM exporter scraped each second) or
    /// `nvidia-smi:FILE` (a CSV that `nvidia-smi --query-gpu=... --format=csv -lms 1000` writes, followed),
    /// or `nvml[:INTERVAL]` (this machine's GPUs through NVML, every second by default).
    #[arg(long, value_name = "SOURCE")]
    pub telemetry: Vec<String>,
    /// The cluster: `kubectl:FILE` (what `kubectl get pods,nodes --watch -o json` writes, followed)
    /// or `kubectl:-` (the same on standard input).
    #[arg(long, value_name = "SOURCE")]
    pub cluster: Option<String>,
    /// The scenario whose scheduler profile judges each binding (a file, or a built-in scenario's name);
    /// `--profile` wins over it.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// The scheduler profile that judges each binding: a built-in name, or a profile file (TOML).
    /// Default: the scenario's profile, else `cost-aware`.
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Prices per node-hour by instance type, for nodes without a `twin.dev/price-per-hour` label:
    /// a TOML or JSON (`.json`) table of names to numbers, as for `twin extender`.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Serve `/metrics` (Prometheus) and `/healthz` here; port 0 picks a free port, printed to stderr as
    /// `listening on ADDR`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Write `divergences.jsonl` (as they happen) and `shadow-summary.json` (at the end) here;
    /// without it, divergences go to stderr, one JSON line each.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Stop after this long (`30s`, `2h`); default: at Ctrl-C or SIGTERM.
    #[arg(long, value_name = "D")]
    pub duration: Option<String>,
    /// A GPU whose utilisation reads 0 for this long is logged as an `idle` divergence (`0s`: never).
    #[arg(long, default_value = "10m", value_name = "D")]
    pub idle_after: String,
    /// Placement policies (Rego, `twin.placement`) that judge each binding,
    /// as for `twin extender`: files or folders. Default: the scenario's.
    #[arg(long, value_name = "DIR|FILE", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// How often the consolidation plan is made again when the cluster
    /// changed (`0s`: never).
    #[arg(long, default_value = "1m", value_name = "D")]
    pub consolidate_every: String,
}

/// `twin regress`.
#[derive(Args, Debug)]
pub struct RegressArgs {
    /// The suite file: scenarios, seeds and KPIs (docs/regress.md).
    #[arg(long, default_value = "regress.toml", value_name = "FILE")]
    pub suite: PathBuf,
    /// The baseline is the suite as its files stood at this git revision
    /// (a branch, a tag, HEAD~1), read from the repository without a checkout.
    #[arg(long, value_name = "REF", conflicts_with = "baseline")]
    pub baseline_ref: Option<String>,
    /// The baseline is a results file written earlier with --write-results.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// Write the candidate's results (versioned JSON), to serve as a later baseline. With --shard,
    /// a FILE, or a DIR (existing, or written with a trailing `/`) that gets `regress-shard-I-of-N.json`.
    #[arg(long, value_name = "FILE")]
    pub write_results: Option<PathBuf>,
    /// Write the baseline's results too (with --baseline-ref), to store it for later runs.
    #[arg(long, value_name = "FILE", requires = "baseline_ref")]
    pub write_baseline: Option<PathBuf>,
    /// Write the verdicts as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown comment for the pull request.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Threads to run on. Default: all cores. The results are the same at any count.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run one share of the candidate's runs and write it with --write-results, for `twin merge`:
    /// I/N, 0 ≤ I < N. Without it, `JOB_COMPLETION_INDEX` (an Indexed Job's pod) and
    /// `TWIN_SHARDS` set together choose the shard.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["baseline_ref", "baseline", "candidate", "junit", "markdown"])]
    pub shard: Option<String>,
    /// The candidate is a results file (`twin merge` of the shards, or --write-results) instead of a run.
    #[arg(long, value_name = "FILE")]
    pub candidate: Option<PathBuf>,
    /// Render the candidate's runs as a Kubernetes Indexed Job instead of running them.
    #[command(flatten)]
    pub job: crate::k8s_job::JobArgs,
}

/// `twin merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard files written by `twin regress --shard` or `twin sweep --shard`, or folders of them
    /// (every shard among their `*.json` files).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged results: for a suite, the FILE one unsharded `--write-results`
    /// writes; for a sweep, the DIR one unsharded `--out` fills.
    #[arg(long, value_name = "FILE|DIR")]
    pub out: PathBuf,
    /// How to print a merged sweep's table.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `twin tui`.
#[derive(Args, Debug)]
pub struct TuiArgs {
    /// Scenario files or built-in names, run folders (`twin run --out`), shadow folders (`twin shadow --out`) and telemetry files; the first opens at once.
    pub open: Vec<String>,
    /// Colours for a light terminal.
    #[arg(long)]
    pub light: bool,
    /// No colours (also when the NO_COLOR environment variable is set).
    #[arg(long)]
    pub no_color: bool,
}

/// `twin sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// A scenario file, or the name of a built-in scenario. Default: `spot-inference`.
    pub scenario: Option<String>,
    /// The service to sweep. Default: the scenario's first.
    #[arg(long)]
    pub service: Option<String>,
    /// Replicas (possible histories) per grid point.
    #[arg(long, default_value_t = 1_000)]
    pub replicas: u32,
    /// A parameter to vary, as KEY=A..B:N (N values from A to B), KEY=A..B (integers) or KEY=V1,V2; repeat for more axes.
    #[arg(long = "vary", value_name = "KEY=RANGE")]
    pub vary: Vec<String>,
    /// The model's time step: finer tracks the autoscaler and queues better, coarser runs faster.
    #[arg(long, default_value = "10s")]
    pub step: String,
    /// Where to run: auto (a real GPU if there is one, else the CPU), gpu, lavapipe (the CPU Vulkan driver), cpu.
    #[arg(long, value_enum, default_value_t = SweepBackend::Auto)]
    pub backend: SweepBackend,
    /// CPU threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seed. Default: the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The probability with which the cheapest point must meet the SLO target.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Write grid.parquet (one row a point) and replicas.parquet (one row a replica) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Time the sweep on the chosen backend and on the CPU backend, and print replica-steps per second.
    #[arg(long)]
    pub bench: bool,
    /// Run one share of the replicas and write it into --out, for `twin merge`: I/N, 0 ≤ I < N.
    /// Without it, `JOB_COMPLETION_INDEX` (an Indexed Job's pod) and `TWIN_SHARDS` set together
    /// choose the share.
    #[arg(long, value_name = "I/N", conflicts_with = "bench")]
    pub shard: Option<String>,
    /// Render the sweep as a Kubernetes Indexed Job instead of running it.
    #[command(flatten)]
    pub job: crate::k8s_job::JobArgs,
}

/// Where a sweep runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SweepBackend {
    /// A real GPU if there is one, else the CPU.
    Auto,
    /// A real GPU, or fail.
    Gpu,
    /// Any Vulkan adapter, the CPU driver (lavapipe) included.
    Lavapipe,
    /// All CPU cores.
    Cpu,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Time between samples.
    #[arg(long, default_value = "100ms")]
    pub interval: String,
    /// Stop after this long (default: at Ctrl-C).
    #[arg(long)]
    pub duration: Option<String>,
    /// The Parquet file: rewritten whole every minute and at the end, so it is always complete.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Convert telemetry (nvidia-smi CSV, dmon, DCGM text), price histories, Spot Advisor data or job traces to canonical Parquet.
    Import(TraceImportArgs),
    /// What a telemetry file, price history or job trace holds: rows, time span, statistics (telemetry: energy and busy/idle phases).
    Info(TraceInfoArgs),
    /// Fit Poisson, 2-state MMPP and diurnal arrival models to a request trace, as scenario TOML.
    Fit(TraceFitArgs),
    /// Write synthetic fleet telemetry (jobs and idle gaps per GPU) as canonical Parquet.
    Synth(TraceSynthArgs),
}

/// `twin trace synth`.
#[derive(Args, Debug)]
pub struct TraceSynthArgs {
    /// GPUs in the fleet.
    #[arg(long, default_value_t = 64)]
    pub gpus: u32,
    /// How long a recording, such as 7d or 12h.
    #[arg(long, default_value = "7d")]
    pub span: String,
    /// Time between samples.
    #[arg(long, default_value = "10s")]
    pub interval: String,
    /// Median job length.
    #[arg(long, default_value = "2h")]
    pub job: String,
    /// Median idle gap between jobs.
    #[arg(long, default_value = "3h")]
    pub gap: String,
    /// How much longer gaps get at night (0: no daily cycle).
    #[arg(long, default_value_t = 1.0)]
    pub diurnal: f64,
    /// GPU name written in the file.
    #[arg(long, default_value = "NVIDIA H100 80GB HBM3")]
    pub name: String,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The Parquet file to write (atomically).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct TraceFitArgs {
    /// The request trace: Azure LLM 2023 CSV or Mooncake JSON lines.
    pub file: PathBuf,
    /// Its format: auto, azure, mooncake.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// The short bin width the MMPP matches the index of dispersion at.
    #[arg(long, default_value = "1s")]
    pub short: String,
    /// The long bin width.
    #[arg(long, default_value = "60s")]
    pub long: String,
    /// Seed of the fitted generators' check runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The fits as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TraceReadArgs {
    /// The file: telemetry (nvidia-smi CSV, dmon text, DCGM text), a price
    /// history (GCP price changes, AWS spot price history JSON), Spot Advisor
    /// data, a job trace (openb pods, Helios sequence), or Parquet from `twin trace import`.
    pub file: PathBuf,
    /// Its format: auto, nvidia-smi, dmon, dcgm, gcp-changes, aws-spot-history,
    /// spot-advisor-csv, spot-advisor-json, openb, helios.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Stop at the first bad row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// DCGM text without timestamps: time between scrapes, such as `15s`.
    #[arg(long, default_value = "1s")]
    pub scrape_interval: String,
}

#[derive(Args, Debug)]
pub struct TraceImportArgs {
    #[command(flatten)]
    pub read: TraceReadArgs,
    /// The Parquet file to write (atomically).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct TraceInfoArgs {
    #[command(flatten)]
    pub read: TraceReadArgs,
    /// The summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("subject").args(["job", "request", "node", "service", "pod"])))]
pub struct ExplainArgs {
    /// A folder written by `twin run --out` or by `twin shadow --out`.
    pub run_dir: PathBuf,
    /// A training job, by name.
    #[arg(long)]
    pub job: Option<String>,
    /// A request, by id (its arrival order, the `id` column of requests.csv).
    #[arg(long)]
    pub request: Option<u64>,
    /// A node, by name (`pool/node-N`).
    #[arg(long)]
    pub node: Option<String>,
    /// A service, by name: its scale steps and its replicas' placements.
    #[arg(long)]
    pub service: Option<String>,
    /// In a `twin shadow` folder: a pod, as `namespace/name`, and what Twin
    /// would have done with it.
    #[arg(long)]
    pub pod: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Run the Rego unit tests (`test_*` rules in `*_test.rego`), as `opa test` does.
    Test(PolicyTestArgs),
}

#[derive(Args, Debug)]
pub struct PolicyTestArgs {
    /// Folders of policies, tests and `data.json`. Default `policies`.
    pub dirs: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A scenario file, or the name of a built-in scenario (see `twin scenarios`).
    /// Default: the built-in `spot-inference`.
    pub scenario: Option<String>,
    /// Seed of the run. Default: the scenario's `seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Kubernetes manifests whose workloads join the scenario's: files,
    /// folders, or `-` for a stream on stdin (`kustomize build | twin run S --manifests -`).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub manifests: Vec<PathBuf>,
    /// Write summary.json and Parquet/CSV records into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --out, leave out the per-request records (they can be large).
    #[arg(long)]
    pub no_request_records: bool,
    /// Which table formats --out writes.
    #[arg(long, value_enum, default_value_t = TableFormats::Both)]
    pub tables: TableFormats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned, human-readable report.
    Text,
    /// The summary as JSON.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormats {
    /// Parquet and CSV.
    Both,
    /// Parquet only.
    Parquet,
    /// CSV only.
    Csv,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ScenariosArgs {
    /// Print the text of this built-in scenario instead of the list.
    #[arg(long, value_name = "NAME")]
    pub show: Option<String>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Only the engine's hold model (the same as `--only engine`).
    #[arg(long)]
    pub engine_only: bool,
    /// Only these parts: `fleet` (a 1,000-GPU week), `engine` (the event
    /// queue against a binary heap), `import` (nvidia-smi CSV to Parquet
    /// against polars' own writer), `tui` (the default scenario watched in
    /// the terminal UI at max speed against headless), `regress` (the
    /// shipped suite, serial against all cores), `extender` (`twin extender`
    /// under an open-loop load on loopback). Default: all but `regress` and `extender`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<BenchPart>,
    /// Requests in the fleet-scale scenario, in millions.
    #[arg(long, default_value_t = 10.0)]
    pub million_requests: f64,
    /// Rows of nvidia-smi CSV in the import part.
    #[arg(long, default_value_t = 200_000)]
    pub import_rows: usize,
}

/// A part of `twin bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchPart {
    /// A 1,000-GPU week of the fleet-scale scenario.
    Fleet,
    /// The event queue's hold model against a binary heap.
    Engine,
    /// nvidia-smi CSV to Parquet in memory against polars' own writer.
    Import,
    /// The default scenario watched in the TUI at max speed against the
    /// same run headless, and the memory of a week watched.
    Tui,
    /// The shipped regression suite (`regress.toml`), one side, run one
    /// run after another and then on all cores. Not in the default set: it
    /// takes minutes.
    Regress,
    /// `twin extender` in this process under an open-loop HTTP load of
    /// 1,000-node requests: p99 at 1,000 req/s, the rate where p99 passes
    /// 5 ms, and full Node lists as the baseline. Not in the default set:
    /// it takes about a minute.
    Extender,
    /// `twin run --out` on a 1,000-GPU week of about 10 M requests with
    /// every record, in a child process: its peak RSS (records streamed to
    /// their files) against the same run kept in memory and written at the
    /// end; then a 10,000-GPU week of about 100 M requests, summary only,
    /// timed. Not in the default set: it takes minutes.
    Stream,
}
