//! A sweep or regression suite split over the pods of a Kubernetes Indexed
//! Job, one shard per pod, then merged by one more pod.
//!
//! ```text
//! configmap.yaml ─► /twin/input (read-only)        pvc.yaml, or an existing claim ─► /twin/results
//!                        │                                                               ▲
//! job.yaml        Indexed Job: completions N, parallelism P                              │
//!                 pod i runs `twin <shard_args>`, JOB_COMPLETION_INDEX=i, TWIN_SHARDS=N ─┤ a partial result each
//! merge-job.yaml  once every index succeeded: `twin <merge_args>` ───────────────────────┘ the merged result
//! fetch-pod.yaml  a pod that mounts the claim, to `kubectl cp` the merged result from
//! ```
//!
//! [`render`] checks a [`ShardJob`] against what Kubernetes would refuse
//! (names, counts, the ConfigMap's size) and returns the folder's files,
//! with a `README.md` holding the exact `kubectl` commands. It does no I/O:
//! the caller writes the files.
//!
//! Kubernetes itself puts each pod's index in `JOB_COMPLETION_INDEX`; the
//! Job adds [`SHARDS_ENV`]. A failing shard is retried
//! [`BACKOFF_LIMIT_PER_INDEX`] times; one that still fails, or that exits
//! with [`BAD_INPUT_EXIT_CODE`] (retrying bad input cannot help), fails the
//! whole Job at once, because the merge needs every shard. A pod evicted,
//! preempted or drained (condition `DisruptionTarget`) is replaced without
//! counting as a failure.

use crate::GitOpsError;
use crate::kustomize::Kustomization;
use crate::layout::Rendered;
use crate::yaml::document;
use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EnvVar, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecurityContext, Toleration, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Where the input files (the ConfigMap) are mounted, read-only.
pub const INPUT_DIR: &str = "/twin/input";
/// Where the results volume is mounted.
pub const RESULTS_DIR: &str = "/twin/results";
/// The environment variable that tells a shard how many shards there are
/// (its own index is in `JOB_COMPLETION_INDEX`, set by Kubernetes).
pub const SHARDS_ENV: &str = "TWIN_SHARDS";
/// `twin`'s exit code for bad input: the Job fails at once, without retries.
pub const BAD_INPUT_EXIT_CODE: i32 = 2;
/// How many times one shard is retried before it fails the Job.
pub const BACKOFF_LIMIT_PER_INDEX: i32 = 2;
/// The most the input files may hold, names included: Kubernetes refuses a
/// ConfigMap over 1 MiB, and the object's metadata needs some of that.
pub const MAX_INPUT_BYTES: usize = 900 * 1024;
/// The user and group the pods run as (the Dockerfile's `twin` user).
pub const RUN_AS: i64 = 65532;
/// The extended resource a GPU is asked for by.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Kubernetes' caps on Indexed Jobs (`pkg/apis/batch/validation`): at most
/// 10^5 pods at a time, and at most 10^4 once there are more than 10^5
/// completions with a backoff limit per index.
const MAX_INDEXED_PARALLELISM: u32 = 100_000;
const COMPLETIONS_SOFT_LIMIT: u32 = 100_000;
const PARALLELISM_ABOVE_SOFT_LIMIT: u32 = 10_000;
/// The longest suffix added to the Job's name for another object whose
/// name must be a DNS-1123 label (`-merge`, `-fetch`).
const NAME_SUFFIX: usize = "-merge".len();
/// The longest a DNS-1123 label may be.
const LABEL_MAX: usize = 63;

/// Where the shards write and the merge reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Results {
    /// An existing PersistentVolumeClaim, by name. It must be
    /// `ReadWriteMany` unless every pod lands on one node.
    Claim(String),
    /// A new claim, `<name>-results`, rendered as `pvc.yaml`.
    New {
        /// Its size, a Kubernetes quantity such as `10Gi`.
        size: String,
        /// Its StorageClass; `None` takes the cluster's default, which must
        /// offer `ReadWriteMany`.
        storage_class: Option<String>,
    },
}

/// Everything a sharded run needs to be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardJob {
    /// The Job's name, e.g. `twin-sweep-3f9a2c1`: a DNS-1123 label short
    /// enough that `<name>-<last index>` and `<name>-merge` fit in 63
    /// characters. The other objects are named after it.
    pub name: String,
    /// The namespace of every object; `None` leaves it to `kubectl -n`.
    pub namespace: Option<String>,
    /// The image holding `twin` (the repository's `Dockerfile` builds one).
    pub image: String,
    /// How many shards: the Job's completions, at least 1.
    pub shards: u32,
    /// How many pods at a time, at least 1; more than `shards` is cut to
    /// `shards`, with a note.
    pub parallelism: u32,
    /// The arguments after `twin` in every shard's pod, e.g.
    /// `["sweep", "--scenario", "/twin/input/scenario.toml", "--out", "/twin/results/<name>"]`.
    pub shard_args: Vec<String>,
    /// The arguments after `twin` in the merge pod, e.g.
    /// `["merge", "/twin/results/<name>", "--out", "/twin/results/<name>/merged"]`.
    pub merge_args: Vec<String>,
    /// Input files, relative path → text, mounted read-only at
    /// [`INPUT_DIR`] (folders and all) from the ConfigMap `<name>-input`.
    pub inputs: Vec<(String, String)>,
    /// The volume mounted at [`RESULTS_DIR`].
    pub results: Results,
    /// GPUs per shard pod (`nvidia.com/gpu`); 0 for none.
    pub gpus_per_pod: u32,
    /// CPU request per pod, shard or merge (a quantity such as `2` or `500m`).
    pub cpu: Option<String>,
    /// Memory request per pod, shard or merge (a quantity such as `4Gi`).
    pub memory: Option<String>,
    /// Delete the finished Jobs (and their pods and logs, not the results)
    /// after this many seconds; `None` keeps them.
    pub ttl_seconds_after_finished: Option<u32>,
}

impl ShardJob {
    /// The merge Job's name: `<name>-merge`.
    pub fn merge_name(&self) -> String {
        format!("{}-merge", self.name)
    }

    /// The ConfigMap's name: `<name>-input`.
    pub fn input_name(&self) -> String {
        format!("{}-input", self.name)
    }

    /// The claim the results go to: the existing one, or `<name>-results`.
    pub fn claim_name(&self) -> String {
        match &self.results {
            Results::Claim(c) => c.clone(),
            Results::New { .. } => format!("{}-results", self.name),
        }
    }

    /// The pod to copy results out of: `<name>-fetch`.
    pub fn fetch_name(&self) -> String {
        format!("{}-fetch", self.name)
    }
}

/// Renders the folder: `configmap.yaml`, `pvc.yaml` (for [`Results::New`]),
/// `job.yaml`, `merge-job.yaml`, `fetch-pod.yaml`, `kustomization.yaml`
/// (the first three only: the merge must wait for the shards) and
/// `README.md`. The same job gives the same bytes.
pub fn render(job: &ShardJob) -> Result<Rendered, GitOpsError> {
    let mut out = Rendered::default();
    let parallelism = check(job, &mut out.notes)?;
    let mut resources = vec!["configmap.yaml".to_string()];
    out.files.insert("configmap.yaml".into(), document("configmap.yaml", &config_map(job))?);
    if let Some(pvc) = claim(job) {
        out.files.insert("pvc.yaml".into(), document("pvc.yaml", &pvc)?);
        resources.push("pvc.yaml".into());
    }
    out.files.insert("job.yaml".into(), document("job.yaml", &shard_job(job, parallelism))?);
    resources.push("job.yaml".into());
    out.files.insert("merge-job.yaml".into(), document("merge-job.yaml", &merge_job(job))?);
    out.files.insert("fetch-pod.yaml".into(), document("fetch-pod.yaml", &fetch_pod(job))?);
    out.files.insert("kustomization.yaml".into(), document("kustomization.yaml", &Kustomization::of(resources))?);
    out.files.insert("README.md".into(), readme(job, parallelism));
    Ok(out)
}

fn refuse(field: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> GitOpsError {
    GitOpsError::ShardJob { field, problem: problem.into(), fix: fix.into() }
}

/// Refuses what Kubernetes would refuse or what could not work; returns
/// the parallelism to render.
fn check(job: &ShardJob, notes: &mut Vec<String>) -> Result<u32, GitOpsError> {
    if job.shards == 0 {
        return Err(refuse("shards", "0 shards would run nothing", "ask for at least 1 shard (--shards)"));
    }
    if job.shards > i32::MAX as u32 {
        return Err(refuse("shards", format!("{} shards is more than a Job's completions can count", job.shards), "ask for fewer shards"));
    }
    check_name(job)?;
    if let Some(ns) = &job.namespace
        && !is_dns_label(ns)
    {
        return Err(refuse(
            "namespace",
            format!(
                "{ns:?} is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63)"
            ),
            format!("name an existing namespace, e.g. {:?}", as_label(ns, LABEL_MAX)),
        ));
    }
    if job.image.trim().is_empty() {
        return Err(refuse(
            "image",
            "no image given",
            "pass an image that holds the twin binary (--image), e.g. one built from the repository's Dockerfile and pushed to a registry the cluster pulls from",
        ));
    }
    if job.image.chars().any(char::is_whitespace) {
        return Err(refuse(
            "image",
            format!("{:?} has whitespace in it", job.image),
            "pass the image reference alone, e.g. registry.example.com/twin:0.1.0",
        ));
    }
    let parallelism = check_parallelism(job, notes)?;
    if job.shard_args.is_empty() {
        return Err(refuse(
            "shard_args",
            "no arguments: each pod would run `twin` alone",
            "give the twin command each shard runs, e.g. `sweep --scenario ...`",
        ));
    }
    if job.merge_args.is_empty() {
        return Err(refuse(
            "merge_args",
            "no arguments: the merge pod would run `twin` alone",
            "give the twin command that merges, e.g. `merge DIR --out DIR/merged`",
        ));
    }
    check_inputs(job)?;
    check_results(&job.results)?;
    for (field, value) in [("cpu", &job.cpu), ("memory", &job.memory)] {
        if let Some(v) = value
            && !is_quantity(v)
        {
            return Err(refuse(field, format!("{v:?} is not a Kubernetes quantity"), "write it like `2`, `500m`, `4Gi` or `512Mi`"));
        }
    }
    if job.ttl_seconds_after_finished.is_some_and(|t| t > i32::MAX as u32) {
        return Err(refuse("ttl_seconds_after_finished", "more seconds than Kubernetes can hold", format!("use at most {}", i32::MAX)));
    }
    Ok(parallelism)
}

/// The name must be a label, and so must `<name>-<last index>` (each pod's
/// hostname, set by the Job controller) and `<name>-merge`.
fn check_name(job: &ShardJob) -> Result<(), GitOpsError> {
    let last_index = job.shards - 1;
    let room = LABEL_MAX - NAME_SUFFIX.max(1 + last_index.to_string().len());
    if !is_dns_label(&job.name) {
        return Err(refuse(
            "name",
            format!(
                "{:?} is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
                job.name
            ),
            format!("use e.g. {:?}", as_label(&job.name, room)),
        ));
    }
    if job.name.len() > room {
        return Err(refuse(
            "name",
            format!(
                "{:?} is {} characters, but the pods' hostnames (\"{}-{last_index}\") and the merge Job (\"{}-merge\") must fit in {LABEL_MAX}",
                job.name,
                job.name.len(),
                job.name,
                job.name
            ),
            format!("use at most {room} characters, e.g. {:?}", as_label(&job.name, room)),
        ));
    }
    Ok(())
}

fn check_parallelism(job: &ShardJob, notes: &mut Vec<String>) -> Result<u32, GitOpsError> {
    if job.parallelism == 0 {
        return Err(refuse("parallelism", "0 pods at a time would never run a shard", "run at least 1 pod at a time (--parallelism)"));
    }
    let mut parallelism = job.parallelism;
    if parallelism > job.shards {
        notes.push(format!("parallelism {parallelism} is more than the {} shards: {} pods at a time", job.shards, job.shards));
        parallelism = job.shards;
    }
    let (cap, when) = if job.shards > COMPLETIONS_SOFT_LIMIT {
        (PARALLELISM_ABOVE_SOFT_LIMIT, format!(" of more than {COMPLETIONS_SOFT_LIMIT} completions with a backoff limit per index"))
    } else {
        (MAX_INDEXED_PARALLELISM, String::new())
    };
    if parallelism > cap {
        return Err(refuse(
            "parallelism",
            format!("{parallelism} pods at a time is more than Kubernetes allows for an Indexed Job{when} ({cap})"),
            format!("run at most {cap} pods at a time (--parallelism)"),
        ));
    }
    Ok(parallelism)
}

fn check_inputs(job: &ShardJob) -> Result<(), GitOpsError> {
    let mut seen = BTreeMap::new();
    let mut total = 0usize;
    let mut keys = BTreeMap::new();
    for (path, text) in &job.inputs {
        if !path.split('/').all(is_config_map_key) {
            return Err(refuse(
                "inputs",
                format!(
                    "{path:?} is not a relative path of plain names (letters, digits, '-', '_' and '.' between '/', none \".\" or \"..\")"
                ),
                "give the file's path under /twin/input, e.g. \"scenario.toml\" or \"scenarios/a.toml\"",
            ));
        }
        if seen.insert(path.as_str(), text.len()).is_some() {
            return Err(refuse("inputs", format!("{path:?} is given twice"), "give each input file its own path"));
        }
        if let Some(other) = keys.insert(input_key(path), path) {
            return Err(refuse("inputs", format!("{other:?} and {path:?} map to one ConfigMap key"), "rename one of them"));
        }
        total += 2 * path.len() + text.len();
    }
    if total > MAX_INPUT_BYTES {
        // The largest file; the first name among equals.
        let (largest, size) = seen.iter().fold(("", 0), |best, (k, n)| if *n > best.1 { (*k, *n) } else { best });
        return Err(refuse(
            "inputs",
            format!(
                "the input files hold {} KiB, more than the {} KiB the ConfigMap may carry (Kubernetes refuses one over 1 MiB); the largest is {largest:?} ({} KiB)",
                total.div_ceil(1024),
                MAX_INPUT_BYTES / 1024,
                size.div_ceil(1024)
            ),
            format!(
                "put {largest:?} on the results volume (under {RESULTS_DIR}) or bake it into the image, and point the scenario at it there"
            ),
        ));
    }
    Ok(())
}

fn check_results(results: &Results) -> Result<(), GitOpsError> {
    match results {
        Results::Claim(c) if !is_dns_subdomain(c) => Err(refuse(
            "results",
            format!("{c:?} is not a PersistentVolumeClaim name (lowercase letters, digits, '-' and '.', at most 253)"),
            "name an existing ReadWriteMany claim (--results-claim), or leave it out to render a new one",
        )),
        Results::New { size, .. }
            if !is_quantity(size) || size.trim_start_matches(['0', '.']).chars().next().is_none_or(|c| !c.is_ascii_digit()) =>
        {
            Err(refuse("results", format!("size {size:?} is not a positive Kubernetes quantity"), "write it like `10Gi` or `500Gi`"))
        }
        Results::New { storage_class: Some(s), .. } if !is_dns_subdomain(s) => Err(refuse(
            "results",
            format!("storage class {s:?} is not a StorageClass name"),
            "name a StorageClass that offers ReadWriteMany (`kubectl get storageclass`), or leave it out for the default",
        )),
        _ => Ok(()),
    }
}

/// A DNS-1123 label: 1 to 63 lowercase letters, digits and '-', starting
/// and ending with a letter or digit.
fn is_dns_label(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= LABEL_MAX && b.iter().all(|&c| alnum(c) || c == b'-') && alnum(b[0]) && alnum(b[b.len() - 1])
}

/// A DNS-1123 subdomain: labels joined by '.', at most 253 in all.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A ConfigMap key: `[-._a-zA-Z0-9]+`, at most 253, not `.` or `..`.
fn is_config_map_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A Kubernetes quantity: a decimal number, then an optional suffix (binary
/// `Ki`…`Ei`, decimal `n`, `u`, `m`, `k`, `M`…`E`, or an exponent `e3`).
fn is_quantity(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let number_end = body.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let exponent = |e: &str| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let suffix_ok = matches!(suffix, "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E")
        || suffix.strip_prefix(['e', 'E']).is_some_and(exponent);
    number_ok && suffix_ok
}

/// `s` made into a DNS-1123 label of at most `max` characters, for a fix.
fn as_label(s: &str, max: usize) -> String {
    let mut label = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (label.is_empty() || label.ends_with('-'))) {
            label.push(c);
        }
    }
    label.truncate(max);
    let label = label.trim_end_matches('-');
    if label.is_empty() { "twin-sweep".chars().take(max).collect() } else { label.to_string() }
}

fn labels(job: &ShardJob, component: &str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/name", "twin"),
        ("app.kubernetes.io/part-of", "twin"),
        ("app.kubernetes.io/instance", job.name.as_str()),
        ("app.kubernetes.io/component", component),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn meta(job: &ShardJob, name: String, component: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name), namespace: job.namespace.clone(), labels: Some(labels(job, component)), ..Default::default() }
}

/// The input files, mounted at [`INPUT_DIR`].
/// An input's ConfigMap key: its path with each `/` as `..` (a key has no
/// folders; the volume's items put each key back at its path).
fn input_key(path: &str) -> String {
    path.replace('/', "..")
}

fn config_map(job: &ShardJob) -> ConfigMap {
    let data: BTreeMap<String, String> = job.inputs.iter().map(|(p, t)| (input_key(p), t.clone())).collect();
    ConfigMap { metadata: meta(job, job.input_name(), "input"), data: Some(data), ..Default::default() }
}

/// The new results claim, if one is asked for.
fn claim(job: &ShardJob) -> Option<PersistentVolumeClaim> {
    let Results::New { size, storage_class } = &job.results else { return None };
    Some(PersistentVolumeClaim {
        metadata: meta(job, job.claim_name(), "results"),
        spec: Some(PersistentVolumeClaimSpec {
            // Shards on different nodes write at once.
            access_modes: Some(vec!["ReadWriteMany".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity(size.clone()))].into()),
                ..Default::default()
            }),
            storage_class_name: storage_class.clone(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn input_volume(job: &ShardJob) -> Volume {
    Volume {
        name: "input".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: job.input_name(),
            // Every key back at its path, folders and all, in path order.
            items: Some(
                job.inputs
                    .iter()
                    .map(|(p, _)| p)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .map(|p| KeyToPath { key: input_key(p), path: p.clone(), ..Default::default() })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn results_volume(job: &ShardJob, read_only: bool) -> Volume {
    Volume {
        name: "results".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: job.claim_name(),
            read_only: read_only.then_some(true),
        }),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount { name: name.into(), mount_path: path.into(), read_only: read_only.then_some(true), ..Default::default() }
}

/// Non-root, no privilege escalation, no capabilities, the runtime's
/// default seccomp profile: the "restricted" Pod Security Standard.
fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        // Makes the results volume writable by the pods' group; changing
        // ownership only when the volume's root does not match keeps pod
        // starts fast on a full volume.
        fs_group: Some(RUN_AS),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
        ..Default::default()
    }
}

fn env(name: &str, value: String) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value), ..Default::default() }
}

/// CPU and memory requests, and GPUs as a limit (an extended resource's
/// request defaults to its limit).
fn resources(job: &ShardJob, gpus: u32) -> Option<ResourceRequirements> {
    let requests: BTreeMap<String, Quantity> = [("cpu", &job.cpu), ("memory", &job.memory)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), Quantity(v.clone()))))
        .collect();
    let limits: BTreeMap<String, Quantity> =
        (gpus > 0).then(|| (GPU_RESOURCE.to_string(), Quantity(gpus.to_string()))).into_iter().collect();
    (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    })
}

/// The container running `twin <args>`, with both volumes.
fn twin_container(job: &ShardJob, name: &str, args: &[String], env: Vec<EnvVar>, gpus: u32) -> Container {
    Container {
        name: name.into(),
        image: Some(job.image.clone()),
        // The Dockerfile's entrypoint too; named here so that any image with
        // `twin` on its PATH works and the YAML reads as the command it runs.
        command: Some(vec!["twin".into()]),
        args: Some(args.to_vec()),
        env: (!env.is_empty()).then_some(env),
        resources: resources(job, gpus),
        volume_mounts: Some(vec![mount("input", INPUT_DIR, true), mount("results", RESULTS_DIR, false)]),
        security_context: Some(container_security()),
        ..Default::default()
    }
}

/// Exit code 2 fails the Job at once; disruptions are not failures; any
/// other failure counts against the backoff limit.
fn failure_policy(container: &str) -> PodFailurePolicy {
    PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: Some(container.into()),
                    operator: "In".into(),
                    values: vec![BAD_INPUT_EXIT_CODE],
                }),
                ..Default::default()
            },
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: Some("True".into()),
                }]),
                ..Default::default()
            },
        ],
    }
}

fn template(job: &ShardJob, component: &str, container: Container, gpus: u32) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(job, component)), ..Default::default() }),
        spec: Some(PodSpec {
            // Required by a pod failure policy and a backoff limit per index.
            restart_policy: Some("Never".into()),
            security_context: Some(pod_security()),
            containers: vec![container],
            volumes: Some(vec![input_volume(job), results_volume(job, false)]),
            // GPU nodes are commonly tainted so that only GPU work lands there.
            tolerations: (gpus > 0).then(|| {
                vec![Toleration {
                    key: Some(GPU_RESOURCE.into()),
                    operator: Some("Exists".into()),
                    effect: Some("NoSchedule".into()),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    }
}

/// The Indexed Job: one pod per shard.
fn shard_job(job: &ShardJob, parallelism: u32) -> Job {
    let mut vars = vec![env(SHARDS_ENV, job.shards.to_string())];
    if job.gpus_per_pod > 0 {
        // The NVIDIA container toolkit mounts the driver's Vulkan ICD (what
        // wgpu needs) only when asked for graphics; its default is compute,utility.
        vars.push(env("NVIDIA_DRIVER_CAPABILITIES", "compute,utility,graphics".into()));
    }
    let container = twin_container(job, "shard", &job.shard_args, vars, job.gpus_per_pod);
    Job {
        metadata: meta(job, job.name.clone(), "shard"),
        spec: Some(JobSpec {
            completions: Some(job.shards as i32),
            parallelism: Some(parallelism as i32),
            completion_mode: Some("Indexed".into()),
            backoff_limit_per_index: Some(BACKOFF_LIMIT_PER_INDEX),
            // The merge needs every shard: the first index that fails for
            // good fails the Job and stops spending on the others.
            max_failed_indexes: Some(0),
            pod_failure_policy: Some(failure_policy("shard")),
            // A replacement starts once the pod it replaces is gone, so two
            // pods never write one shard's file at once (and the only value
            // a pod failure policy allows).
            pod_replacement_policy: Some("Failed".into()),
            ttl_seconds_after_finished: job.ttl_seconds_after_finished.map(|t| t as i32),
            template: template(job, "shard", container, job.gpus_per_pod),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The merge: one pod, retried once, no GPU.
fn merge_job(job: &ShardJob) -> Job {
    let container = twin_container(job, "merge", &job.merge_args, Vec::new(), 0);
    Job {
        metadata: meta(job, job.merge_name(), "merge"),
        spec: Some(JobSpec {
            completions: Some(1),
            parallelism: Some(1),
            backoff_limit: Some(1),
            pod_failure_policy: Some(failure_policy("merge")),
            pod_replacement_policy: Some("Failed".into()),
            ttl_seconds_after_finished: job.ttl_seconds_after_finished.map(|t| t as i32),
            template: template(job, "merge", container, 0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod that mounts the results read-only for an hour, for `kubectl cp`
/// (which needs `tar` in the image: Debian's is).
fn fetch_pod(job: &ShardJob) -> Pod {
    Pod {
        metadata: meta(job, job.fetch_name(), "fetch"),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            security_context: Some(pod_security()),
            containers: vec![Container {
                name: "fetch".into(),
                image: Some(job.image.clone()),
                command: Some(vec!["sleep".into(), "3600".into()]),
                volume_mounts: Some(vec![mount("results", RESULTS_DIR, true)]),
                security_context: Some(container_security()),
                ..Default::default()
            }],
            volumes: Some(vec![results_volume(job, true)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An argument as a shell would need it written.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn command_line(args: &[String]) -> String {
    std::iter::once("twin".to_string()).chain(args.iter().map(|a| shell_word(a))).collect::<Vec<_>>().join(" ")
}

/// Where the merge writes: the value of `--out` in its arguments.
fn merged_dir(args: &[String]) -> Option<&str> {
    args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--out") {
        Some("") => args.get(i + 1).map(String::as_str),
        Some(v) => v.strip_prefix('='),
        None => None,
    })
}

/// The folder's `README.md`: what runs, and the commands, in order.
fn readme(job: &ShardJob, parallelism: u32) -> String {
    let name = &job.name;
    let ns = job.namespace.as_ref().map(|n| format!(" -n {n}")).unwrap_or_default();
    let claim = job.claim_name();
    let merge = job.merge_name();
    let fetch = job.fetch_name();
    let new_claim = matches!(job.results, Results::New { .. });
    let pvc = if new_claim { " -f pvc.yaml" } else { "" };
    let merged = merged_dir(&job.merge_args).unwrap_or(RESULTS_DIR);
    let merged_local = format!("./{}", merged.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(name));
    let gpus = if job.gpus_per_pod > 0 {
        format!("Each shard's pod asks for {} `{GPU_RESOURCE}` and tolerates the `{GPU_RESOURCE}` NoSchedule taint.\n", job.gpus_per_pod)
    } else {
        String::new()
    };
    let claim_note = if new_claim {
        format!(
            "`pvc.yaml` asks for a new claim `{claim}`, ReadWriteMany: the cluster's StorageClass must offer that (an NFS or CephFS class, EFS, Filestore, Azure Files)."
        )
    } else {
        format!("The claim `{claim}` must exist and be ReadWriteMany, unless every pod lands on one node.")
    };
    let ttl_note = match job.ttl_seconds_after_finished {
        Some(t) => {
            format!("- Kubernetes deletes each Job, its pods and their logs {t} s after it finishes; the results stay on the claim.\n")
        }
        None => String::new(),
    };
    let delete_claim = if new_claim { format!("kubectl delete{ns} -f pvc.yaml   # the results go with it\n") } else { String::new() };
    format!(
        r#"# {name}: a sharded twin run on Kubernetes

{shards} shards, {parallelism} at a time, each a pod of the Indexed Job `{name}`
running

    {shard_cmd}

Kubernetes gives each pod its index in `JOB_COMPLETION_INDEX`; `{SHARDS_ENV}={shards}`
says how many there are. When every shard has succeeded, the Job `{merge}` runs

    {merge_cmd}

The input files are the ConfigMap `{input}`, mounted read-only at `{INPUT_DIR}`.
The results are on the PersistentVolumeClaim `{claim}`, mounted at `{RESULTS_DIR}`.
{gpus}
## 1. Run the shards

```sh
kubectl apply --server-side{ns} -f configmap.yaml{pvc} -f job.yaml   # or: kubectl apply --server-side{ns} -k .
kubectl wait{ns} --for=condition=complete --timeout=24h job/{name}
```

(`--server-side`: a client-side apply copies the whole object into an
annotation that may hold only 256 KiB, which a large ConfigMap overflows.)

A shard that fails is retried {BACKOFF_LIMIT_PER_INDEX} times. One that still fails, or that exits
with code {BAD_INPUT_EXIT_CODE} (bad input, which no retry mends), fails the whole Job at
once: the merge needs every shard. A pod that is evicted, preempted or drained
is replaced without counting as a failure. When the Job fails, the wait
above runs on to its timeout; to see what failed:

```sh
kubectl wait{ns} --for=condition=failed --timeout=24h job/{name}
kubectl get{ns} job {name} -o jsonpath='{{.status.failedIndexes}}{{"\n"}}'
kubectl get{ns} pods -l job-name={name} -L batch.kubernetes.io/job-completion-index
kubectl logs{ns} POD   # the pods are named {name}-INDEX-RANDOM
```

Mend the cause, then run every shard again:
`kubectl delete{ns} -f job.yaml`, and apply it again.

## 2. Merge

```sh
kubectl apply --server-side{ns} -f merge-job.yaml
kubectl wait{ns} --for=condition=complete --timeout=1h job/{merge}
kubectl logs{ns} job/{merge}
```

## 3. Copy the merged results out

They are at `{merged}` on the claim `{claim}`, which keeps them
after the Jobs are gone. `fetch-pod.yaml` mounts it read-only for an hour:

```sh
kubectl apply --server-side{ns} -f fetch-pod.yaml
kubectl wait{ns} --for=condition=Ready --timeout=5m pod/{fetch}
kubectl cp{ns} {fetch}:{merged} {merged_local}
kubectl delete{ns} -f fetch-pod.yaml
```

## 4. Clean up

```sh
kubectl delete{ns} -f merge-job.yaml -f job.yaml -f configmap.yaml
{delete_claim}```

## Notes

- {claim_note}
- The pods run as user and group {RUN_AS}; `fsGroup` makes the volume writable
  for them on most volume types (on NFS, make the export writable for {RUN_AS}).
- `kustomization.yaml` lists the shards' objects only: the merge must wait for them.
{ttl_note}"#,
        shards = job.shards,
        shard_cmd = command_line(&job.shard_args),
        merge_cmd = command_line(&job.merge_args),
        input = job.input_name(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> ShardJob {
        ShardJob {
            name: "twin-sweep-3f9a2c1".into(),
            namespace: Some("twin".into()),
            image: "registry.example.com/twin:0.1.0".into(),
            shards: 8,
            parallelism: 4,
            shard_args: ["sweep", "--scenario", "/twin/input/scenario.toml", "--out", "/twin/results/twin-sweep-3f9a2c1"]
                .map(String::from)
                .to_vec(),
            merge_args: ["merge", "/twin/results/twin-sweep-3f9a2c1", "--out", "/twin/results/twin-sweep-3f9a2c1/merged"]
                .map(String::from)
                .to_vec(),
            inputs: vec![
                ("scenario.toml".into(), "format_version = 1\nname = \"t\"\n".into()),
                ("sweep.toml".into(), "[axes]\nreplicas = [1, 2, 4]\n".into()),
            ],
            results: Results::New { size: "10Gi".into(), storage_class: None },
            gpus_per_pod: 0,
            cpu: Some("2".into()),
            memory: Some("4Gi".into()),
            ttl_seconds_after_finished: None,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(r: &Rendered, file: &str) -> T {
        serde_saphyr::from_str(&r.files[file]).unwrap_or_else(|e| panic!("{file}: {e}\n{}", r.files[file]))
    }

    fn refused(job: &ShardJob) -> (&'static str, String) {
        match render(job) {
            Err(e @ GitOpsError::ShardJob { field, .. }) => (field, e.to_string()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn pod(j: &Job) -> &PodSpec {
        j.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
    }

    #[test]
    fn shard_job_renders_every_file_and_each_parses_back() {
        let r = render(&sweep()).unwrap();
        let files: Vec<&str> = r.files.keys().map(String::as_str).collect();
        assert_eq!(
            files,
            ["README.md", "configmap.yaml", "fetch-pod.yaml", "job.yaml", "kustomization.yaml", "merge-job.yaml", "pvc.yaml"]
        );
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let cm: ConfigMap = parse(&r, "configmap.yaml");
        assert_eq!(cm.metadata.name.as_deref(), Some("twin-sweep-3f9a2c1-input"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("twin"));
        assert_eq!(cm.data.unwrap()["sweep.toml"], "[axes]\nreplicas = [1, 2, 4]\n", "multi-line text survives");
        let pvc: PersistentVolumeClaim = parse(&r, "pvc.yaml");
        let spec = pvc.spec.unwrap();
        assert_eq!(pvc.metadata.name.as_deref(), Some("twin-sweep-3f9a2c1-results"));
        assert_eq!(spec.access_modes.unwrap(), ["ReadWriteMany"]);
        assert_eq!(spec.resources.unwrap().requests.unwrap()["storage"], Quantity("10Gi".into()));
        let _: Job = parse(&r, "job.yaml");
        let _: Job = parse(&r, "merge-job.yaml");
        let fetch: Pod = parse(&r, "fetch-pod.yaml");
        let fetch = fetch.spec.unwrap();
        assert_eq!(fetch.volumes.unwrap()[0].persistent_volume_claim.as_ref().unwrap().read_only, Some(true));
        assert_eq!(fetch.containers[0].volume_mounts.as_ref().unwrap()[0].mount_path, RESULTS_DIR);
        let kz: Kustomization = parse(&r, "kustomization.yaml");
        assert_eq!(kz.resources, ["configmap.yaml", "pvc.yaml", "job.yaml"], "the merge is applied after the shards");
    }

    #[test]
    fn shard_job_is_an_indexed_job_that_fails_fast_on_bad_input() {
        let r = render(&sweep()).unwrap();
        let j: Job = parse(&r, "job.yaml");
        assert_eq!(j.metadata.name.as_deref(), Some("twin-sweep-3f9a2c1"));
        assert_eq!(j.metadata.labels.as_ref().unwrap()["app.kubernetes.io/component"], "shard");
        let spec = j.spec.as_ref().unwrap();
        assert_eq!(spec.completions, Some(8));
        assert_eq!(spec.parallelism, Some(4));
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!(spec.backoff_limit_per_index, Some(BACKOFF_LIMIT_PER_INDEX));
        assert_eq!(spec.max_failed_indexes, Some(0));
        assert_eq!(spec.backoff_limit, None, "Kubernetes' default with a per-index limit");
        assert_eq!(spec.pod_replacement_policy.as_deref(), Some("Failed"));
        assert_eq!(spec.ttl_seconds_after_finished, None);
        let rules = &spec.pod_failure_policy.as_ref().unwrap().rules;
        assert_eq!(rules[0].action, "FailJob");
        let codes = rules[0].on_exit_codes.as_ref().unwrap();
        assert_eq!((codes.container_name.as_deref(), codes.operator.as_str(), &codes.values[..]), (Some("shard"), "In", &[2][..]));
        assert_eq!(rules[1].action, "Ignore");
        let cond = &rules[1].on_pod_conditions.as_ref().unwrap()[0];
        assert_eq!((cond.type_.as_str(), cond.status.as_deref()), ("DisruptionTarget", Some("True")));

        let p = pod(&j);
        assert_eq!(p.restart_policy.as_deref(), Some("Never"));
        assert_eq!(p.tolerations, None);
        let sc = p.security_context.as_ref().unwrap();
        assert_eq!((sc.run_as_non_root, sc.run_as_user, sc.fs_group), (Some(true), Some(RUN_AS), Some(RUN_AS)));
        let c = &p.containers[0];
        assert_eq!(c.name, "shard");
        assert_eq!(c.image.as_deref(), Some("registry.example.com/twin:0.1.0"));
        assert_eq!(c.command.as_deref(), Some(&["twin".to_string()][..]));
        assert_eq!(c.args.as_ref().unwrap(), &sweep().shard_args);
        let env = c.env.as_ref().unwrap();
        assert_eq!(env.len(), 1, "{env:?}");
        assert_eq!((env[0].name.as_str(), env[0].value.as_deref()), (SHARDS_ENV, Some("8")));
        assert!(!env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"), "Kubernetes sets it");
        let mounts: Vec<(&str, &str, Option<bool>)> =
            c.volume_mounts.as_ref().unwrap().iter().map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only)).collect();
        assert_eq!(mounts, [("input", INPUT_DIR, Some(true)), ("results", RESULTS_DIR, None)]);
        let volumes = p.volumes.as_ref().unwrap();
        assert_eq!(volumes[0].config_map.as_ref().unwrap().name, "twin-sweep-3f9a2c1-input");
        assert_eq!(volumes[1].persistent_volume_claim.as_ref().unwrap().claim_name, "twin-sweep-3f9a2c1-results");
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.requests.as_ref().unwrap()["cpu"], Quantity("2".into()));
        assert_eq!(res.requests.as_ref().unwrap()["memory"], Quantity("4Gi".into()));
        assert_eq!(res.limits, None, "no GPU asked for");
    }

    #[test]
    fn shard_job_merge_runs_once_with_the_same_volumes() {
        let r = render(&sweep()).unwrap();
        let m: Job = parse(&r, "merge-job.yaml");
        assert_eq!(m.metadata.name.as_deref(), Some("twin-sweep-3f9a2c1-merge"));
        let spec = m.spec.as_ref().unwrap();
        assert_eq!((spec.completions, spec.parallelism, spec.backoff_limit), (Some(1), Some(1), Some(1)));
        assert_eq!(spec.completion_mode, None);
        assert_eq!(
            spec.pod_failure_policy.as_ref().unwrap().rules[0].on_exit_codes.as_ref().unwrap().container_name.as_deref(),
            Some("merge")
        );
        let j: Job = parse(&r, "job.yaml");
        assert_eq!(pod(&m).volumes, pod(&j).volumes);
        let c = &pod(&m).containers[0];
        assert_eq!(c.args.as_ref().unwrap(), &sweep().merge_args);
        assert_eq!(c.volume_mounts, pod(&j).containers[0].volume_mounts);
        assert_eq!(c.env, None);
    }

    #[test]
    fn shard_job_asks_for_gpus_only_when_told() {
        let mut job = sweep();
        job.gpus_per_pod = 2;
        job.cpu = None;
        job.memory = None;
        let r = render(&job).unwrap();
        let j: Job = parse(&r, "job.yaml");
        let c = &pod(&j).containers[0];
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.limits.as_ref().unwrap()[GPU_RESOURCE], Quantity("2".into()));
        assert_eq!(res.requests, None);
        let t = &pod(&j).tolerations.as_ref().unwrap()[0];
        assert_eq!(
            (t.key.as_deref(), t.operator.as_deref(), t.effect.as_deref()),
            (Some(GPU_RESOURCE), Some("Exists"), Some("NoSchedule"))
        );
        assert!(
            c.env
                .as_ref()
                .unwrap()
                .iter()
                .any(|e| e.name == "NVIDIA_DRIVER_CAPABILITIES" && e.value.as_deref().is_some_and(|v| v.contains("graphics")))
        );
        let m: Job = parse(&r, "merge-job.yaml");
        assert_eq!(pod(&m).containers[0].resources, None, "the merge needs no GPU");
        assert_eq!(pod(&m).tolerations, None);

        job.gpus_per_pod = 0;
        let j: Job = parse(&render(&job).unwrap(), "job.yaml");
        assert_eq!(pod(&j).containers[0].resources, None);
        assert!(!render(&job).unwrap().files["job.yaml"].contains(GPU_RESOURCE));
    }

    #[test]
    fn shard_job_with_an_existing_claim_renders_no_pvc() {
        let mut job = sweep();
        job.results = Results::Claim("team-results".into());
        job.namespace = None;
        job.ttl_seconds_after_finished = Some(86_400);
        let r = render(&job).unwrap();
        assert!(!r.files.contains_key("pvc.yaml"));
        let kz: Kustomization = parse(&r, "kustomization.yaml");
        assert_eq!(kz.resources, ["configmap.yaml", "job.yaml"]);
        let j: Job = parse(&r, "job.yaml");
        assert_eq!(j.metadata.namespace, None);
        assert_eq!(j.spec.as_ref().unwrap().ttl_seconds_after_finished, Some(86_400));
        assert_eq!(pod(&j).volumes.as_ref().unwrap()[1].persistent_volume_claim.as_ref().unwrap().claim_name, "team-results");
        let readme = &r.files["README.md"];
        assert!(readme.contains("kubectl apply --server-side -f configmap.yaml -f job.yaml"), "{readme}");
        assert!(!readme.contains(" -n "), "{readme}");
        assert!(readme.contains("86400 s after it finishes"), "{readme}");
    }

    #[test]
    fn shard_job_parallelism_above_shards_is_cut_with_a_note() {
        let mut job = sweep();
        job.parallelism = 64;
        let r = render(&job).unwrap();
        let j: Job = parse(&r, "job.yaml");
        assert_eq!(j.spec.unwrap().parallelism, Some(8));
        assert_eq!(r.notes, ["parallelism 64 is more than the 8 shards: 8 pods at a time"]);
    }

    #[test]
    fn shard_job_readme_gives_the_commands_in_order() {
        let r = render(&sweep()).unwrap();
        let readme = &r.files["README.md"];
        let steps = [
            "kubectl apply --server-side -n twin -f configmap.yaml -f pvc.yaml -f job.yaml",
            "kubectl wait -n twin --for=condition=complete --timeout=24h job/twin-sweep-3f9a2c1",
            "kubectl get -n twin pods -l job-name=twin-sweep-3f9a2c1",
            "kubectl logs -n twin POD",
            "kubectl apply --server-side -n twin -f merge-job.yaml",
            "kubectl wait -n twin --for=condition=complete --timeout=1h job/twin-sweep-3f9a2c1-merge",
            "kubectl cp -n twin twin-sweep-3f9a2c1-fetch:/twin/results/twin-sweep-3f9a2c1/merged ./merged",
            "kubectl delete -n twin -f pvc.yaml",
        ];
        let mut at = 0;
        for step in steps {
            let found = readme[at..].find(step).unwrap_or_else(|| panic!("{step:?} not after byte {at}:\n{readme}"));
            at += found + step.len();
        }
        assert!(readme.contains("twin sweep --scenario /twin/input/scenario.toml --out /twin/results/twin-sweep-3f9a2c1"));
        assert!(readme.contains("TWIN_SHARDS=8"));
    }

    #[test]
    fn shard_job_rendering_is_deterministic() {
        let a = render(&sweep()).unwrap();
        let b = render(&sweep()).unwrap();
        assert_eq!(a.files, b.files);
        let mut shuffled = sweep();
        shuffled.inputs.reverse();
        assert_eq!(render(&shuffled).unwrap().files, a.files, "inputs are keyed by name");
    }

    #[test]
    fn shard_job_refuses_bad_names_with_a_fix() {
        let mut job = sweep();
        job.name = "Twin_Sweep".into();
        let (field, msg) = refused(&job);
        assert_eq!(field, "name");
        assert!(msg.contains("DNS-1123") && msg.contains("\"twin-sweep\""), "{msg}");

        job.name = "a".repeat(57);
        job.shards = 1_000_000; // the last pod's hostname is <name>-999999
        let (field, msg) = refused(&job);
        assert_eq!(field, "name");
        assert!(msg.contains("-999999") && msg.contains("at most 56 characters"), "{msg}");
        job.name = "a".repeat(56);
        render(&job).unwrap();

        job.shards = 8; // now "-merge" is the longest suffix
        job.name = "a".repeat(58);
        assert!(refused(&job).1.contains("at most 57 characters"));

        let mut job = sweep();
        job.namespace = Some("Team A".into());
        let (field, msg) = refused(&job);
        assert_eq!(field, "namespace");
        assert!(msg.contains("\"team-a\""), "{msg}");
    }

    #[test]
    fn shard_job_refuses_bad_counts() {
        let mut job = sweep();
        job.shards = 0;
        let (field, msg) = refused(&job);
        assert_eq!(field, "shards");
        assert!(msg.contains("at least 1 shard"), "{msg}");

        let mut job = sweep();
        job.parallelism = 0;
        assert_eq!(refused(&job).0, "parallelism");

        let mut job = sweep();
        job.name = "s".into();
        job.shards = 200_000;
        job.parallelism = 20_000;
        let (field, msg) = refused(&job);
        assert_eq!(field, "parallelism");
        assert!(msg.contains("at most 10000"), "{msg}");
        job.parallelism = 10_000;
        let j: Job = parse(&render(&job).unwrap(), "job.yaml");
        assert_eq!(j.spec.unwrap().completions, Some(200_000));
    }

    #[test]
    fn shard_job_refuses_an_empty_image_and_empty_commands() {
        let mut job = sweep();
        job.image = " ".into();
        let (field, msg) = refused(&job);
        assert_eq!(field, "image");
        assert!(msg.contains("--image") && msg.contains("Dockerfile"), "{msg}");

        let mut job = sweep();
        job.shard_args.clear();
        assert_eq!(refused(&job).0, "shard_args");
        let mut job = sweep();
        job.merge_args.clear();
        assert_eq!(refused(&job).0, "merge_args");
    }

    #[test]
    fn shard_job_refuses_inputs_the_config_map_cannot_hold() {
        let mut job = sweep();
        job.inputs.push(("trace.csv".into(), "x".repeat(MAX_INPUT_BYTES)));
        let (field, msg) = refused(&job);
        assert_eq!(field, "inputs");
        assert!(msg.contains("\"trace.csv\"") && msg.contains("1 MiB") && msg.contains("results volume"), "{msg}");

        let mut job = sweep();
        job.inputs.push(("../a.csv".into(), String::new()));
        assert!(refused(&job).1.contains("\"../a.csv\" is not a relative path"));
        let mut job = sweep();
        job.inputs.push(("traces/a.csv".into(), String::new()));
        job.inputs.push(("traces..a.csv".into(), String::new()));
        assert!(refused(&job).1.contains("map to one ConfigMap key"));

        let mut job = sweep();
        job.inputs.push(("scenario.toml".into(), String::new()));
        assert!(refused(&job).1.contains("given twice"));
    }

    #[test]
    fn shard_job_refuses_bad_quantities_and_claims() {
        let mut job = sweep();
        job.memory = Some("4GB".into());
        assert_eq!(refused(&job).0, "memory");
        let mut job = sweep();
        job.cpu = Some("two".into());
        assert_eq!(refused(&job).0, "cpu");
        let mut job = sweep();
        job.results = Results::New { size: "0".into(), storage_class: None };
        assert_eq!(refused(&job).0, "results");
        job.results = Results::New { size: "1.5Ti".into(), storage_class: Some("Fast NFS".into()) };
        assert!(refused(&job).1.contains("storage class"));
        job.results = Results::Claim("My_Claim".into());
        assert!(refused(&job).1.contains("--results-claim"));
        for ok in ["2", "500m", "4Gi", "1.5", "1e3", "+10M"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "Gi", "4GB", "1..5", "1e", "-"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
