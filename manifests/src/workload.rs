//! Deployments and StatefulSets as Twin services.
//!
//! A workload whose pods ask for accelerators becomes a service. With
//! Twin's load annotations (`twin.dev/model`, `twin.dev/arrivals`, the
//! token lengths and the SLO) it serves requests; without, it holds its
//! replicas' accelerators all run (`arrivals = "none"`): cost, placement and
//! fragmentation, no requests. A workload asking for no accelerator is
//! skipped with a note: Twin models accelerator work only.
//!
//! Names: a workload in the namespace `default` keeps its name; in another
//! namespace it is `namespace/name`. The team is the `team` label (of the
//! workload, else of its pod template), else the namespace.

use crate::annotations::{self, Annotations, Target};
use crate::apply::Ctx;
use crate::error::Fault;
use crate::field::FieldPath;
use crate::fleet::{self, Fit};
use crate::parse::{Object, Resource};
use crate::pod::{self, PodDemand};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use twin_sim::scenario::spec::{ArrivalSpec, SchedulingSpec, ServiceSpec, ServiceTimeSpec, SloSpec, TokenSpec};

/// The name Twin gives the workload `name` of `namespace`.
pub(crate) fn workload_name(namespace: &str, name: &str) -> String {
    if namespace == "default" { name.to_string() } else { format!("{namespace}/{name}") }
}

/// Who a workload is: its Twin name, team, namespace and labels.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// The Twin name (see [`workload_name`]).
    pub(crate) name: String,
    /// `Deployment ml/chat`, for notes and messages.
    pub(crate) display: String,
    pub(crate) team: String,
    pub(crate) namespace: String,
    pub(crate) labels: BTreeMap<String, String>,
}

impl Identity {
    /// The identity of `object`, whose pods come from `template`.
    pub(crate) fn of(object: &Object, template: &PodTemplateSpec) -> Result<Identity, Fault> {
        let r = &object.resource;
        if r.name().is_empty() {
            return Err(Fault::value(
                FieldPath::of("metadata.name"),
                format!("the {} has no name", r.kind()),
                "every workload needs metadata.name",
            ));
        }
        let namespace = r.namespace().to_string();
        let name = workload_name(&namespace, r.name());
        let meta = r.metadata();
        let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        labels.extend(meta.labels.clone().unwrap_or_default());
        let team = labels.get("team").cloned().unwrap_or_else(|| namespace.clone());
        Ok(Identity { display: format!("{} {name}", r.kind()), name, team, namespace, labels })
    }
}

/// The scheduling of a pod: priority, node selector, tolerations, CPU and memory per accelerator.
// Fields the format gains later keep their defaults.
#[allow(clippy::needless_update)]
pub(crate) fn scheduling(ctx: &Ctx<'_>, pod: &PodDemand, spec_path: &FieldPath) -> Result<SchedulingSpec, Fault> {
    let priority = ctx.classes.priority(pod.priority_class.as_deref(), &spec_path.key("priorityClassName"))?;
    Ok(SchedulingSpec {
        priority,
        node_selector: pod.nodes.scheduler_selector(),
        tolerations: pod.nodes.tolerations.clone(),
        cpu_milli_per_gpu: pod.cpu_milli_per_gpu(),
        memory_mib_per_gpu: pod.memory_mib_per_gpu(),
        ..Default::default()
    })
}

/// The pod of a workload's template at `spec.template`, with Twin's
/// annotations refused there.
pub(crate) fn pod_of(ctx: &Ctx<'_>, template: &PodTemplateSpec, base: &FieldPath) -> Result<PodDemand, Fault> {
    annotations::refuse_on_template(template.metadata.as_ref(), &base.key("metadata"))?;
    pod::read(template, base, &ctx.taint_keys)
}

/// The accelerated pod of a workload's template (at `base`), or `None` with a note when
/// it asks for no accelerator (Twin models accelerator work); such a pod
/// carrying Twin's annotations is an error: `annotated` names them in the
/// message and `hint` says what to do.
pub(crate) fn accelerated_pod(
    ctx: &Ctx<'_>,
    template: &PodTemplateSpec,
    base: &FieldPath,
    id: &Identity,
    ann: &Annotations<'_>,
    (annotated, hint): (&str, &str),
    notes: &mut Vec<String>,
) -> Result<Option<PodDemand>, Fault> {
    let pod = pod_of(ctx, template, base)?;
    if pod.gpus > 0 {
        return Ok(Some(pod));
    }
    if !ann.is_empty() {
        return Err(Fault::value(base.key("spec"), format!("{} asks for no accelerator but has {annotated}", id.display), hint));
    }
    notes.push(format!("{}: asks for no accelerator: skipped (Twin models accelerator work)", id.display));
    Ok(None)
}

/// A service whose replicas hold `pod`'s accelerators: the common part of
/// every workload read as a service.
pub(crate) fn service_base(
    ctx: &Ctx<'_>,
    id: &Identity,
    pod: &PodDemand,
    replicas: u32,
    spec_path: &FieldPath,
) -> Result<ServiceSpec, Fault> {
    let pools = fleet::choose(&ctx.fleet, pod, Fit::Pod, &id.display, spec_path)?;
    let mut s = ctx.service_template.clone();
    s.name = id.name.clone();
    s.team = id.team.clone();
    s.namespace = Some(id.namespace.clone());
    s.labels = id.labels.clone();
    s.image = pod.image.clone();
    s.scheduling = scheduling(ctx, pod, spec_path)?;
    s.pools = pools;
    s.gpus_per_replica = pod.gpus;
    s.replicas = replicas;
    Ok(s)
}

/// `N replicas × G GPU`, for notes.
pub(crate) fn shape(replicas: u32, gpus: u32) -> String {
    let r = if replicas == 1 { "replica" } else { "replicas" };
    let g = if gpus == 1 { "GPU" } else { "GPUs" };
    format!("{replicas} {r} × {gpus} {g}")
}

/// The service of a Deployment or StatefulSet, or `None` (with a note) when its pods ask for no accelerator.
pub(crate) fn service(ctx: &Ctx<'_>, object: &Object, notes: &mut Vec<String>) -> Result<Option<ServiceSpec>, Fault> {
    let (meta, replicas, template): (&ObjectMeta, Option<i32>, &PodTemplateSpec) = match &object.resource {
        Resource::Deployment(d) => (&d.metadata, d.spec.replicas, &d.spec.template),
        Resource::StatefulSet(s) => (&s.metadata, s.spec.replicas, &s.spec.template),
        _ => return Ok(None),
    };
    let id = Identity::of(object, template)?;
    let ann = annotations::read(meta, &FieldPath::of("metadata"), Target::Service)?;
    let base = FieldPath::of("spec.template");
    let hint = "Twin serves requests on accelerators: give the containers limits such as nvidia.com/gpu: 1";
    let Some(pod) = accelerated_pod(ctx, template, &base, &id, &ann, ("Twin load annotations", hint), notes)? else { return Ok(None) };
    let replicas = match replicas {
        None => 1,
        Some(r) => u32::try_from(r).map_err(|_| Fault::value(FieldPath::of("spec.replicas"), format!("{r} replicas"), "0 or more"))?,
    };
    let mut s = service_base(ctx, &id, &pod, replicas, &base.key("spec"))?;
    match load(ctx, &ann)? {
        None => notes.push(format!(
            "{}: no twin.dev/ load annotations: modelled as {} held all run (cost, placement, fragmentation; no requests)",
            id.display,
            shape(replicas, pod.gpus)
        )),
        Some(l) => {
            let what = l.model.clone().unwrap_or_else(|| "requests with a sampled service time".to_string());
            notes.push(format!("{}: serves {what} as {} in pools {}", id.display, shape(replicas, pod.gpus), s.pools.join(", ")));
            s.model = l.model;
            s.arrivals = l.arrivals;
            s.slo = Some(l.slo);
            s.prompt_tokens = l.prompt_tokens;
            s.output_tokens = l.output_tokens;
            if let Some(t) = l.service_time {
                s.service_time = t;
            }
            if let Some(b) = l.max_batch {
                s.max_batch = b;
            }
        }
    }
    Ok(Some(s))
}

/// The load Twin's annotations describe.
struct Load {
    model: Option<String>,
    arrivals: ArrivalSpec,
    slo: SloSpec,
    prompt_tokens: Option<TokenSpec>,
    output_tokens: Option<TokenSpec>,
    service_time: Option<ServiceTimeSpec>,
    max_batch: Option<u32>,
}

/// The load annotations, or `None` when there are none.
fn load(ctx: &Ctx<'_>, ann: &Annotations<'_>) -> Result<Option<Load>, Fault> {
    if ann.is_empty() {
        return Ok(None);
    }
    let arrivals: Option<ArrivalSpec> = ann.toml("arrivals")?;
    let service_time: Option<ServiceTimeSpec> = ann.toml("service-time")?;
    let traced = matches!(arrivals, Some(ArrivalSpec::Trace(_)));
    // A sampled service time (fixed, exponential) needs no model or token
    // lengths; the roofline model, the default, needs both (a replayed
    // trace brings its own tokens).
    let roofline = matches!(service_time, None | Some(ServiceTimeSpec::Roofline));
    let mut required = vec!["arrivals", "slo-ttft", "slo-e2e"];
    if roofline {
        required.insert(0, "model");
        if !traced {
            required.extend(["prompt-tokens", "output-tokens"]);
        }
    }
    let missing: Vec<String> = required.iter().filter(|k| !ann.has(k)).map(|k| format!("{}{k}", annotations::PREFIX)).collect();
    if !missing.is_empty() {
        let given = required.iter().find(|k| ann.has(k)).copied().unwrap_or("model");
        let some =
            ["model", "arrivals", "prompt-tokens", "output-tokens", "service-time", "slo-ttft", "slo-e2e", "slo-target", "max-batch"]
                .into_iter()
                .find(|k| ann.has(k))
                .unwrap_or(given);
        return Err(Fault::value(
            ann.path(some),
            format!("a served workload also needs {}", missing.join(", ")),
            "arrivals and an SLO, with a model and token lengths (or a sampled twin.dev/service-time), describe its load; without any of them it holds capacity only",
        ));
    }
    let model = match ann.get("model") {
        None => None,
        Some(model_text) => match ctx.catalogue.model(model_text) {
            Some(i) => Some(ctx.catalogue.models[i].name.clone()),
            None => {
                let names: Vec<&str> = ctx.catalogue.models.iter().map(|m| m.name.as_str()).collect();
                return Err(Fault::value(ann.path("model"), format!("unknown model {model_text:?}"), close_names(model_text, &names)));
            }
        },
    };
    let ttft = ann.duration("slo-ttft")?.unwrap_or_default();
    let e2e = ann.duration("slo-e2e")?.unwrap_or_default();
    let target = match ann.number("slo-target")? {
        None => 0.99,
        Some(t) if t > 0.0 && t <= 1.0 => t,
        Some(t) => return Err(ann.fault("slo-target", format!("{t} is not in (0, 1]"))),
    };
    Ok(Some(Load {
        model,
        arrivals: arrivals.unwrap_or(ArrivalSpec::None),
        slo: SloSpec { ttft, e2e, target },
        prompt_tokens: ann.toml("prompt-tokens")?,
        output_tokens: ann.toml("output-tokens")?,
        service_time,
        max_batch: ann.count("max-batch")?,
    }))
}

/// A hint naming the known names closest to `text`, then all of them.
pub(crate) fn close_names(text: &str, names: &[&str]) -> String {
    let mut scored: Vec<(f64, &str)> = names.iter().map(|n| (strsim::jaro_winkler(&text.to_lowercase(), &n.to_lowercase()), *n)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let close: Vec<&str> = scored.iter().filter(|(s, _)| *s >= 0.8).take(3).map(|(_, n)| *n).collect();
    let all = names.join(", ");
    if close.is_empty() { format!("known: {all}") } else { format!("did you mean {}? known: {all}", close.join(" or ")) }
}
