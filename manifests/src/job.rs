//! Jobs as Twin training work.
//!
//! A Job annotated `twin.dev/work-gpu-hours` (H100-hours per pod) is
//! training work:
//!
//! - all-or-nothing (a gang) when annotated `twin.dev/gang: "true"`, or when
//!   the Job or its pod template carries, as a label or an annotation, one of
//!   the gang markers of the common gang schedulers: `scheduling.x-k8s.io/pod-group`
//!   (the coscheduling plugin), `kueue.x-k8s.io/pod-group-name` (Kueue pod
//!   groups), `scheduling.k8s.io/group-name` (Volcano). `twin.dev/gang: "false"`
//!   overrides a marker. A gang is one training job of `parallelism` × the
//!   pod's accelerators, with `parallelism` × the per-pod work;
//! - otherwise `completions` (default `parallelism`) pods run at most
//!   `parallelism` at a time, as the Job controller runs them: Twin makes
//!   `min(parallelism, completions)` jobs named `name-0`, `name-1`, ...,
//!   each one pod's accelerators working through its share of the
//!   completions back to back (`completions / parallelism`, the first ones
//!   one more when it does not divide).
//!
//! `twin.dev/submit-at` (a duration) delays the submission. A Job without
//! `twin.dev/work-gpu-hours` holds `parallelism` pods' accelerators all run,
//! as a Deployment without load annotations does.

use crate::annotations::{self, Target};
use crate::apply::Ctx;
use crate::error::Fault;
use crate::field::FieldPath;
use crate::fleet::{self, Fit};
use crate::parse::{Object, Resource};
use crate::workload::{Identity, accelerated_pod, scheduling, service_base, shape};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use twin_sim::scenario::spec::{ServiceSpec, TrainingSpec};

/// Labels or annotations of gang schedulers that make a Job all-or-nothing.
pub(crate) const GANG_MARKERS: &[&str] =
    &["scheduling.x-k8s.io/pod-group", "kueue.x-k8s.io/pod-group-name", "scheduling.k8s.io/group-name"];

/// Most jobs one Job becomes.
const MAX_COMPLETIONS: u32 = 100_000;

/// What a Job becomes.
pub(crate) enum JobWork {
    /// Training jobs: one gang, or one per completion.
    Training(Vec<TrainingSpec>),
    /// Capacity held all run.
    Held(Box<ServiceSpec>),
    /// Nothing: its pods ask for no accelerator (noted).
    Skipped,
}

fn marker(meta: Option<&ObjectMeta>) -> Option<&'static str> {
    let meta = meta?;
    GANG_MARKERS
        .iter()
        .copied()
        .find(|m| meta.labels.as_ref().is_some_and(|l| l.contains_key(*m)) || meta.annotations.as_ref().is_some_and(|a| a.contains_key(*m)))
}

fn non_negative(v: Option<i32>, default: u32, path: &str) -> Result<u32, Fault> {
    match v {
        None => Ok(default),
        Some(n) => u32::try_from(n).map_err(|_| Fault::value(FieldPath::of(path), format!("{n} is negative"), "0 or more")),
    }
}

/// The work of a Job.
pub(crate) fn job(ctx: &Ctx<'_>, object: &Object, notes: &mut Vec<String>) -> Result<JobWork, Fault> {
    let Resource::Job(j) = &object.resource else { return Ok(JobWork::Skipped) };
    let Some(spec) = &j.spec else {
        return Err(Fault::value(FieldPath::root(), "a Job needs a spec", "give spec.template with the pod's containers"));
    };
    let template = &spec.template;
    let id = Identity::of(object, template)?;
    let ann = annotations::read(&j.metadata, &FieldPath::of("metadata"), Target::Job)?;
    let base = FieldPath::of("spec.template");
    let hint = "give the containers limits such as nvidia.com/gpu: 1";
    let Some(pod) = accelerated_pod(ctx, template, &base, &id, &ann, ("Twin annotations", hint), notes)? else {
        return Ok(JobWork::Skipped);
    };
    let parallelism = non_negative(spec.parallelism, 1, "spec.parallelism")?;
    if parallelism == 0 {
        notes.push(format!("{}: parallelism 0 runs no pod: skipped", id.display));
        return Ok(JobWork::Skipped);
    }
    let completions = non_negative(spec.completions, parallelism, "spec.completions")?;
    let Some(work) = ann.number("work-gpu-hours")? else {
        if let Some(k) = ["gang", "submit-at"].into_iter().find(|k| ann.has(k)) {
            return Err(ann.fault(k, format!("{}{k} needs {}work-gpu-hours", annotations::PREFIX, annotations::PREFIX)));
        }
        let mut s = service_base(ctx, &id, &pod, parallelism, &base.key("spec"))?;
        s.replicas = parallelism;
        notes.push(format!(
            "{}: no twin.dev/work-gpu-hours: modelled as {} held all run (cost, placement, fragmentation; no progress)",
            id.display,
            shape(parallelism, pod.gpus)
        ));
        return Ok(JobWork::Held(Box::new(s)));
    };
    if work <= 0.0 {
        return Err(ann.fault("work-gpu-hours", format!("{work} is not above 0")));
    }
    let submit_at = ann.duration("submit-at")?.unwrap_or_default();
    let gang_by = match ann.flag("gang")? {
        Some(true) => Some("twin.dev/gang"),
        Some(false) => None,
        None => marker(Some(&j.metadata)).or_else(|| marker(template.metadata.as_ref())),
    };
    let scheduling = scheduling(ctx, &pod, &base.key("spec"))?;
    let make = |name: String, gpus: u32, work_gpu_hours: f64, pools: Vec<String>| {
        let mut t = ctx.training_template.clone();
        t.name = name;
        t.team = id.team.clone();
        t.namespace = Some(id.namespace.clone());
        t.scheduling = scheduling.clone();
        t.image = pod.image.clone();
        t.labels = id.labels.clone();
        t.pools = pools;
        t.gpus = gpus;
        t.work_gpu_hours = work_gpu_hours;
        t.submit_at = submit_at;
        t
    };
    if let Some(by) = gang_by {
        let total = parallelism.checked_mul(pod.gpus).ok_or_else(|| {
            Fault::value(FieldPath::of("spec.parallelism"), format!("{parallelism} pods × {} accelerators is too many", pod.gpus), "")
        })?;
        let pools = fleet::choose(&ctx.fleet, &pod, Fit::Gang(total), &id.display, &base.key("spec"))?;
        notes.push(format!(
            "{}: a gang ({by}) of {parallelism} pods × {} = {total} accelerators, {} H100-hours",
            id.display,
            pod.gpus,
            work * f64::from(parallelism)
        ));
        return Ok(JobWork::Training(vec![make(id.name.clone(), total, work * f64::from(parallelism), pools)]));
    }
    if completions > MAX_COMPLETIONS {
        return Err(Fault::value(
            FieldPath::of("spec.completions"),
            format!("{completions} completions"),
            format!("Twin makes at most {MAX_COMPLETIONS} jobs of one Job"),
        ));
    }
    let pools = fleet::choose(&ctx.fleet, &pod, Fit::Gang(pod.gpus), &id.display, &base.key("spec"))?;
    // At most `parallelism` pods at once: that many workers, each running
    // its share of the completions one after another.
    let workers = parallelism.min(completions);
    notes.push(format!(
        "{}: {completions} completions of {} × {work} H100-hours, at most {parallelism} at a time: {workers} jobs running {} back to back",
        id.display,
        shape(1, pod.gpus).trim_start_matches("1 replica × "),
        if completions % workers == 0 {
            format!("{} each", completions / workers)
        } else {
            format!("{} or {} each", completions / workers + 1, completions / workers)
        }
    ));
    Ok(JobWork::Training(
        (0..workers)
            .map(|i| {
                let share = completions / workers + u32::from(i < completions % workers);
                make(format!("{}-{i}", id.name), pod.gpus, work * f64::from(share), pools.clone())
            })
            .collect(),
    ))
}
