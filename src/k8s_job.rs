//! `--emit-k8s-job`: a sweep or a regression suite rendered as a Kubernetes
//! Indexed Job (one pod a shard, each told its index by
//! `JOB_COMPLETION_INDEX`), its inputs as a ConfigMap, and the merge Job
//! (docs/cluster.md). Kubernetes schedules, retries and runs the pods:
//! Twin only cuts the work and merges it.

use anyhow::{Context, bail};
use clap::Args;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use twin_gitops::shard_job::{INPUT_DIR, RESULTS_DIR, Results, ShardJob, render};

/// The flags that render a Job instead of running.
#[derive(Args, Debug, Clone)]
pub struct JobArgs {
    /// Instead of running, write a Kubernetes Indexed Job that runs this command in --shards pods
    /// (ConfigMap, claim, Job, merge Job, README with the kubectl commands) into DIR.
    #[arg(long, value_name = "DIR", requires_all = ["shards", "image"])]
    pub emit_k8s_job: Option<PathBuf>,
    /// Shards: the Job's completions, one pod each.
    #[arg(long, value_name = "N", requires = "emit_k8s_job")]
    pub shards: Option<u32>,
    /// Pods at a time. Default: all the shards.
    #[arg(long, value_name = "P", requires = "emit_k8s_job")]
    pub parallelism: Option<u32>,
    /// The image holding `twin` (built from the repository's Dockerfile).
    #[arg(long, value_name = "IMAGE", requires = "emit_k8s_job")]
    pub image: Option<String>,
    /// Write results to this existing PersistentVolumeClaim (ReadWriteMany) instead of a new one.
    #[arg(long, value_name = "NAME", requires = "emit_k8s_job")]
    pub results_claim: Option<String>,
    /// The size of the new results claim.
    #[arg(long, value_name = "SIZE", default_value = "10Gi", requires = "emit_k8s_job")]
    pub results_size: String,
    /// The new results claim's StorageClass (one offering ReadWriteMany). Default: the cluster's.
    #[arg(long, value_name = "CLASS", requires = "emit_k8s_job")]
    pub storage_class: Option<String>,
    /// The namespace of every object. Default: kubectl's.
    #[arg(long, value_name = "NS", requires = "emit_k8s_job")]
    pub namespace: Option<String>,
    /// The Job's name. Default: twin-sweep- or twin-regress- and a hash of the work.
    #[arg(long, value_name = "NAME", requires = "emit_k8s_job")]
    pub job_name: Option<String>,
    /// CPU request per pod, such as `4`.
    #[arg(long, value_name = "QUANTITY", requires = "emit_k8s_job")]
    pub cpu: Option<String>,
    /// Memory request per pod, such as `8Gi`.
    #[arg(long, value_name = "QUANTITY", requires = "emit_k8s_job")]
    pub memory: Option<String>,
}

/// The input files a run reads, by path relative to one folder (`root`),
/// as the pods will find them under `/twin/input`.
pub struct Inputs {
    root: PathBuf,
    files: BTreeMap<String, String>,
    notes: Vec<String>,
}

impl Inputs {
    /// Inputs relative to `root`.
    pub fn new(root: &Path) -> Inputs {
        Inputs { root: normal(root), files: BTreeMap::new(), notes: Vec::new() }
    }

    /// Adds `reference` (a file or folder named in a file in folder `base`),
    /// returning its path under `/twin/input`; an absolute path is left as
    /// it is, with a note that the pods must have it.
    pub fn add(&mut self, base: &Path, reference: &str, what: &str) -> anyhow::Result<String> {
        if Path::new(reference).is_absolute() {
            self.notes.push(format!("{what} {reference} is an absolute path: every pod must have it (in the image, or on the results volume under {RESULTS_DIR})"));
            return Ok(reference.to_string());
        }
        let path = normal(&base.join(reference));
        let Ok(rel) = path.strip_prefix(&self.root) else {
            bail!(
                "{what} {reference} lies outside {}, whose files the pods get: move it beside the others, or name it by an absolute path that every pod has (in the image, or on the results volume under {RESULTS_DIR})",
                self.root.display()
            );
        };
        let rel = rel.to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {what} {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            inside.sort();
            for f in inside {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if !name.starts_with('.') {
                    self.add(&path, &name, what)?;
                }
            }
        } else {
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {what} {}", path.display()))?;
            let Ok(text) = String::from_utf8(bytes) else {
                bail!(
                    "{what} {} is not text, and a ConfigMap carries the inputs as text: copy it to the results volume and name it by its path there ({RESULTS_DIR}/...), or bake it into the image",
                    path.display()
                );
            };
            self.files.insert(rel.clone(), text);
        }
        Ok(format!("{INPUT_DIR}/{rel}"))
    }

    /// Adds a scenario file (`path`) and every file it names; returns its
    /// path under `/twin/input`.
    pub fn scenario(&mut self, path: &Path) -> anyhow::Result<String> {
        let base = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let at = self.add(base, &name, "the scenario")?;
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let scenario = twin_sim::scenario::Scenario::from_toml(&text, &path.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.named_by(base, &scenario, &path.display().to_string())?;
        Ok(at)
    }

    /// Adds the data files `scenario` (in folder `base`) names.
    fn named_by(&mut self, base: &Path, scenario: &twin_sim::scenario::Scenario, origin: &str) -> anyhow::Result<()> {
        let what = |k: &str| format!("{origin}: {k}");
        let spec = &scenario.spec;
        let mut named: Vec<(String, String)> = Vec::new();
        named.extend(scenario.trace_files().into_iter().map(|(f, _)| (f, what("request trace"))));
        named.extend(scenario.telemetry_files().into_iter().map(|(f, _)| (f, what("telemetry"))));
        named.extend(scenario.price_history_files().into_iter().map(|(_, h)| (h.file, what("price history"))));
        named.extend(scenario.job_trace_files().into_iter().map(|(_, f, _)| (f, what("job trace"))));
        named.extend(scenario.advisor_files().into_iter().map(|(_, a)| (a.file, what("Spot Advisor data"))));
        named.extend(spec.manifests.iter().map(|m| (m.clone(), what("manifests"))));
        if let Some(p) = &spec.policies {
            named.extend(p.files.iter().map(|f| (f.clone(), what("policies"))));
            named.extend(p.data.iter().map(|f| (f.clone(), what("policy data"))));
        }
        if let Some(t) = &spec.pod_trace {
            named.push((t.pods.clone(), what("pod trace")));
            named.push((t.nodes.clone(), what("pod trace nodes")));
        }
        for (f, w) in named {
            self.add(base, &f, &w)?;
        }
        Ok(())
    }
}

/// `path` without `.` and with each `..` taken back, lexically (from the
/// current folder when relative).
fn normal(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// What the command runs, for [`emit`].
pub struct Work {
    /// `sweep` or `regress`.
    pub kind: &'static str,
    /// The shard pods' arguments after `twin`, with `{OUT}` where the
    /// shards write.
    pub shard_args: Vec<String>,
    /// What the merge writes, relative to the Job's results folder.
    pub merged: &'static str,
    /// GPUs a pod.
    pub gpus: u32,
    /// The files the pods read.
    pub inputs: Inputs,
}

/// Renders the Job for `work` into `a.emit_k8s_job` and says what to do next.
pub fn emit(a: &JobArgs, work: Work) -> anyhow::Result<ExitCode> {
    let dir = a.emit_k8s_job.as_deref().expect("emit is asked for");
    let shards = a.shards.expect("clap requires --shards");
    let image = a.image.clone().expect("clap requires --image");
    let name = match &a.job_name {
        Some(n) => n.clone(),
        None => {
            // The same work gives the same name; other work, another.
            let mut h = Sha256::new();
            for s in &work.shard_args {
                h.update(s.as_bytes());
                h.update([0]);
            }
            for (p, t) in &work.inputs.files {
                h.update(p.as_bytes());
                h.update(Sha256::digest(t.as_bytes()));
            }
            h.update(shards.to_le_bytes());
            let hex: String = h.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("twin-{}-{hex}", work.kind)
        }
    };
    let results = format!("{RESULTS_DIR}/{name}");
    let shard_dir = format!("{results}/shards");
    let merged = format!("{results}/{}", work.merged);
    let shard_args: Vec<String> = work.shard_args.iter().map(|s| s.replace("{OUT}", &shard_dir)).collect();
    let job = ShardJob {
        name: name.clone(),
        namespace: a.namespace.clone(),
        image,
        shards,
        parallelism: a.parallelism.unwrap_or(shards),
        shard_args,
        merge_args: vec!["merge".into(), shard_dir.clone(), "--out".into(), merged.clone()],
        inputs: work.inputs.files.into_iter().collect(),
        results: match &a.results_claim {
            Some(c) => Results::Claim(c.clone()),
            None => Results::New { size: a.results_size.clone(), storage_class: a.storage_class.clone() },
        },
        gpus_per_pod: work.gpus,
        cpu: a.cpu.clone(),
        memory: a.memory.clone(),
        ttl_seconds_after_finished: None,
    };
    let rendered = render(&job)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, text) in &rendered.files {
        let path = dir.join(file);
        twin_replay::atomic::write_text(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    for note in work.inputs.notes.iter().chain(&rendered.notes) {
        eprintln!("note: {note}");
    }
    eprintln!(
        "wrote {} files to {}: Job {name}, {shards} shard(s){}; the merged results go to {merged} on the claim {}",
        rendered.files.len(),
        dir.display(),
        if work.gpus > 0 { format!(", {} GPU(s) a pod", work.gpus) } else { String::new() },
        job.claim_name()
    );
    eprintln!("next: kubectl apply --server-side -k {}   (then see {}/README.md)", dir.display(), dir.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_keep_their_folders_and_refuse_what_lies_outside() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("suite/scenarios")).unwrap();
        std::fs::write(d.path().join("suite/scenarios/a.toml"), "x").unwrap();
        std::fs::write(d.path().join("outside.csv"), "y").unwrap();
        let mut i = Inputs::new(&d.path().join("suite"));
        let at = i.add(&d.path().join("suite"), "scenarios/./a.toml", "the scenario").unwrap();
        assert_eq!(at, "/twin/input/scenarios/a.toml");
        assert_eq!(i.files.keys().collect::<Vec<_>>(), ["scenarios/a.toml"]);
        let e = i.add(&d.path().join("suite/scenarios"), "../../outside.csv", "a trace").unwrap_err().to_string();
        assert!(e.contains("a trace ../../outside.csv lies outside"), "{e}");
        assert_eq!(i.add(Path::new("/"), "/data/t.csv", "a trace").unwrap(), "/data/t.csv");
        assert!(i.notes[0].contains("absolute path"));
        std::fs::write(d.path().join("suite/bin.parquet"), [0xff, 0xfe, 0]).unwrap();
        assert!(i.add(&d.path().join("suite"), "bin.parquet", "telemetry").unwrap_err().to_string().contains("is not text"));
    }
}
