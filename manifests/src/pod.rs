//! What one pod of a workload asks for: accelerators, CPU, memory, nodes, priority.
//!
//! Accelerators are Kubernetes extended resources, read from the
//! containers' `limits` (and `requests`, which must equal them when both are
//! given, as Kubernetes requires). The resource names Twin counts as
//! accelerators, and the catalogue vendors each may run on:
//!
//! | resource | vendor |
//! | --- | --- |
//! | `nvidia.com/gpu` | NVIDIA |
//! | `amd.com/gpu` | AMD |
//! | `gpu.intel.com/i915`, `gpu.intel.com/xe` | Intel |
//! | `habana.ai/gaudi` | Intel, Habana |
//! | `aws.amazon.com/neuron`, `aws.amazon.com/neurondevice` | AWS |
//! | `google.com/tpu` | Google |
//!
//! Shares of a device (`nvidia.com/mig-*`, time-sliced `nvidia.com/gpu.shared`,
//! `aws.amazon.com/neuroncore`) are refused: Twin's workloads take whole devices.
//!
//! CPU and memory are the containers' requests (their limits where a request
//! is absent), summed, or the largest init container's if that is more
//! (sidecars, init containers with `restartPolicy: Always`, count with the
//! containers), plus the pod's `overhead`; pod-level `resources` replace the
//! sum where set.

use crate::error::Fault;
use crate::field::FieldPath;
use crate::quantity::{self, Quantity};
use crate::selector::NodeDemand;
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use std::collections::BTreeMap;

/// Accelerator resource names and the catalogue vendors that make them.
pub const ACCELERATORS: &[(&str, &[&str])] = &[
    ("nvidia.com/gpu", &["NVIDIA"]),
    ("amd.com/gpu", &["AMD"]),
    ("gpu.intel.com/i915", &["Intel"]),
    ("gpu.intel.com/xe", &["Intel"]),
    ("habana.ai/gaudi", &["Intel", "Habana"]),
    ("aws.amazon.com/neuron", &["AWS"]),
    ("aws.amazon.com/neurondevice", &["AWS"]),
    ("google.com/tpu", &["Google"]),
];

/// Whether `name` is a share of a device rather than a whole one.
fn is_share(name: &str) -> bool {
    name.starts_with("nvidia.com/mig-") || name == "nvidia.com/gpu.shared" || name == "aws.amazon.com/neuroncore"
}

/// What one pod asks for.
#[derive(Clone, Debug, Default)]
pub struct PodDemand {
    /// Accelerators (whole devices).
    pub gpus: u32,
    /// The resource they are asked as, such as `nvidia.com/gpu`.
    pub resource: &'static str,
    /// Vendors whose accelerators provide it.
    pub vendors: &'static [&'static str],
    /// CPU, millicores.
    pub cpu_milli: u64,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// The image of the first container asking for accelerators.
    pub image: String,
    /// Labels and taints.
    pub nodes: NodeDemand,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
}

impl PodDemand {
    /// CPU per accelerator, millicores, rounded up.
    pub(crate) fn cpu_milli_per_gpu(&self) -> u32 {
        per(self.cpu_milli, self.gpus)
    }

    /// Memory per accelerator, MiB, rounded up.
    pub(crate) fn memory_mib_per_gpu(&self) -> u32 {
        per(self.memory_mib, self.gpus)
    }

    /// `3 × nvidia.com/gpu`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} {} per pod, {}m CPU and {} MiB per pod", self.gpus, self.resource, self.cpu_milli, self.memory_mib)
    }
}

fn per(total: u64, gpus: u32) -> u32 {
    u32::try_from(total.div_ceil(u64::from(gpus.max(1)))).unwrap_or(u32::MAX)
}

/// What one container asks for.
#[derive(Default)]
struct Ask {
    gpus: u64,
    resource: Option<&'static str>,
    cpu_milli: u64,
    memory_mib: u64,
}

/// Reads the pod template at `path` (`spec.template`).
pub fn read(template: &PodTemplateSpec, path: &FieldPath, taint_keys: &[String]) -> Result<PodDemand, Fault> {
    let sp = path.key("spec");
    let Some(spec) = &template.spec else {
        return Err(Fault::value(sp, "the pod template has no spec", "give the pod's containers under spec.template.spec"));
    };
    let (mut app, mut init_max, mut sidecars) = (Ask::default(), Ask::default(), Ask::default());
    let mut resource = None;
    let mut image = None;
    for (i, c) in spec.containers.iter().enumerate() {
        let ask = container(c, &sp.key("containers").index(i))?;
        merge_resource(&mut resource, ask.resource, &sp.key("containers").index(i))?;
        if ask.gpus > 0 && image.is_none() {
            image = c.image.clone();
        }
        add(&mut app, &ask);
    }
    for (i, c) in spec.init_containers.as_deref().unwrap_or(&[]).iter().enumerate() {
        let ask = container(c, &sp.key("initContainers").index(i))?;
        merge_resource(&mut resource, ask.resource, &sp.key("initContainers").index(i))?;
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut sidecars, &ask);
        } else {
            init_max.gpus = init_max.gpus.max(ask.gpus.saturating_add(sidecars.gpus));
            init_max.cpu_milli = init_max.cpu_milli.max(ask.cpu_milli.saturating_add(sidecars.cpu_milli));
            init_max.memory_mib = init_max.memory_mib.max(ask.memory_mib.saturating_add(sidecars.memory_mib));
        }
    }
    add(&mut app, &sidecars);
    let mut cpu_milli = app.cpu_milli.max(init_max.cpu_milli);
    let mut memory_mib = app.memory_mib.max(init_max.memory_mib);
    if let Some(r) = &spec.resources {
        let (cpu, mem) = cpu_memory(r, &sp.key("resources"))?;
        cpu_milli = cpu.unwrap_or(cpu_milli);
        memory_mib = mem.unwrap_or(memory_mib);
    }
    if let Some(overhead) = &spec.overhead {
        let op = sp.key("overhead");
        cpu_milli = cpu_milli.saturating_add(overhead.get("cpu").map(|q| milli(q, &op.key("cpu"))).transpose()?.unwrap_or(0));
        memory_mib = memory_mib.saturating_add(overhead.get("memory").map(|q| mib(q, &op.key("memory"))).transpose()?.unwrap_or(0));
    }
    let gpus = app.gpus.max(init_max.gpus);
    let gpus = u32::try_from(gpus)
        .map_err(|_| Fault::value(sp.key("containers"), format!("{gpus} accelerators in one pod"), "a pod fits on one node"))?;
    let resource = resource.unwrap_or("nvidia.com/gpu");
    let vendors = ACCELERATORS.iter().find(|(r, _)| *r == resource).map_or(&[][..], |(_, v)| *v);
    Ok(PodDemand {
        gpus,
        resource,
        vendors,
        cpu_milli,
        memory_mib,
        image: image.or_else(|| spec.containers.first().and_then(|c| c.image.clone())).unwrap_or_default(),
        nodes: NodeDemand::read(spec, &sp, taint_keys)?,
        priority_class: spec.priority_class_name.clone().filter(|n| !n.is_empty()),
    })
}

fn add(to: &mut Ask, ask: &Ask) {
    to.gpus = to.gpus.saturating_add(ask.gpus);
    to.cpu_milli = to.cpu_milli.saturating_add(ask.cpu_milli);
    to.memory_mib = to.memory_mib.saturating_add(ask.memory_mib);
}

/// Keeps one accelerator resource per pod.
fn merge_resource(seen: &mut Option<&'static str>, new: Option<&'static str>, path: &FieldPath) -> Result<(), Fault> {
    match (*seen, new) {
        (Some(a), Some(b)) if a != b => Err(Fault::value(
            path.keys("resources.limits").key(b),
            format!("the pod asks for both {a} and {b}"),
            "Twin places a pod on one kind of accelerator",
        )),
        (None, Some(b)) => {
            *seen = Some(b);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What container `c` at `path` asks for.
fn container(c: &Container, path: &FieldPath) -> Result<Ask, Fault> {
    let Some(r) = &c.resources else { return Ok(Ask::default()) };
    let rp = path.key("resources");
    let empty = BTreeMap::new();
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let mut ask = Ask::default();
    for name in requests.keys().chain(limits.keys()) {
        if is_share(name) {
            let section = if limits.contains_key(name) { "limits" } else { "requests" };
            return Err(Fault::value(
                rp.key(section).key(name),
                format!("{name} is a share of a device, which Twin does not model"),
                "ask for whole devices, such as nvidia.com/gpu: 1",
            ));
        }
    }
    for &(name, _) in ACCELERATORS {
        let req = requests.get(name).map(|q| count(q, &rp.key("requests").key(name))).transpose()?;
        let lim = limits.get(name).map(|q| count(q, &rp.key("limits").key(name))).transpose()?;
        let n = match (req, lim) {
            (None, None) => continue,
            (Some(r), None) => {
                return Err(Fault::value(
                    rp.key("requests").key(name),
                    format!("{name} is requested ({r}) without a limit"),
                    format!("Kubernetes needs a limit for an extended resource: set limits[{name}]: {r}"),
                ));
            }
            (Some(r), Some(l)) if r != l => {
                return Err(Fault::value(
                    rp.key("requests").key(name),
                    format!("{name}: the request ({r}) differs from the limit ({l})"),
                    "Kubernetes requires them equal for an extended resource",
                ));
            }
            (_, Some(l)) => l,
        };
        if n > 0 {
            if let Some(prev) = ask.resource {
                return Err(Fault::value(
                    rp.key("limits").key(name),
                    format!("the container asks for both {prev} and {name}"),
                    "Twin places a pod on one kind of accelerator",
                ));
            }
            ask.resource = Some(name);
            ask.gpus = n;
        }
    }
    let (cpu, mem) = cpu_memory(r, &rp)?;
    ask.cpu_milli = cpu.unwrap_or(0);
    ask.memory_mib = mem.unwrap_or(0);
    Ok(ask)
}

/// CPU (millicores) and memory (MiB) of `r` at `path`: requests, else limits.
fn cpu_memory(r: &ResourceRequirements, path: &FieldPath) -> Result<(Option<u64>, Option<u64>), Fault> {
    let pick = |name: &str| -> Option<(&K8sQuantity, FieldPath)> {
        r.requests
            .as_ref()
            .and_then(|m| m.get(name))
            .map(|q| (q, path.key("requests").key(name)))
            .or_else(|| r.limits.as_ref().and_then(|m| m.get(name)).map(|q| (q, path.key("limits").key(name))))
    };
    let cpu = pick("cpu").map(|(q, p)| milli(q, &p)).transpose()?;
    let mem = pick("memory").map(|(q, p)| mib(q, &p)).transpose()?;
    Ok((cpu, mem))
}

/// A quantity at `path`, not negative.
fn quantity(q: &K8sQuantity, path: &FieldPath) -> Result<Quantity, Fault> {
    let v = Quantity::parse(&q.0).map_err(|e| Fault::value(path.clone(), e, quantity::HINT))?;
    if v.is_negative() {
        return Err(Fault::value(path.clone(), format!("{:?} is negative", q.0), "resources are 0 or more"));
    }
    Ok(v)
}

fn too_large(q: &K8sQuantity, path: &FieldPath) -> Fault {
    Fault::value(path.clone(), format!("{:?} is too large", q.0), "")
}

fn milli(q: &K8sQuantity, path: &FieldPath) -> Result<u64, Fault> {
    quantity(q, path)?.milli().ok_or_else(|| too_large(q, path))
}

fn mib(q: &K8sQuantity, path: &FieldPath) -> Result<u64, Fault> {
    quantity(q, path)?.mib().ok_or_else(|| too_large(q, path))
}

fn count(q: &K8sQuantity, path: &FieldPath) -> Result<u64, Fault> {
    let v = quantity(q, path)?;
    v.count().ok_or_else(|| Fault::value(path.clone(), format!("{:?} is not a whole number of devices", q.0), "write 1, 2, 8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(yaml: &str) -> PodTemplateSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn read_yaml(yaml: &str) -> Result<PodDemand, Fault> {
        read(&template(yaml), &FieldPath::of("spec.template"), &[])
    }

    #[test]
    fn requests_and_limits_as_kubernetes_reads_them() {
        let p = read_yaml(
            "spec:\n  containers:\n  - name: a\n    image: img:1\n    resources:\n      limits: {nvidia.com/gpu: 2, cpu: '4', memory: 8Gi}\n      requests: {cpu: '2', memory: 6Gi}\n  - name: side\n    image: side:1\n    resources:\n      requests: {cpu: 500m, memory: 1Gi}\n",
        )
        .unwrap();
        assert_eq!((p.gpus, p.resource, p.cpu_milli, p.memory_mib), (2, "nvidia.com/gpu", 2_500, 7_168));
        assert_eq!((p.cpu_milli_per_gpu(), p.memory_mib_per_gpu()), (1_250, 3_584));
        assert_eq!(p.image, "img:1");
    }

    #[test]
    fn init_containers_count_when_larger_and_sidecars_always() {
        let p = read_yaml(
            "spec:\n  initContainers:\n  - name: warm\n    resources: {requests: {cpu: '8'}}\n  - name: proxy\n    restartPolicy: Always\n    resources: {requests: {cpu: '1'}}\n  containers:\n  - name: a\n    resources: {limits: {amd.com/gpu: 1}, requests: {cpu: '2'}}\n",
        )
        .unwrap();
        assert_eq!((p.gpus, p.resource, p.cpu_milli), (1, "amd.com/gpu", 8_000));
        assert_eq!(p.vendors, ["AMD"]);
    }

    #[test]
    fn extended_resources_need_equal_requests_and_limits() {
        let f =
            read_yaml("spec:\n  containers:\n  - name: a\n    resources: {limits: {nvidia.com/gpu: 2}, requests: {nvidia.com/gpu: 1}}\n")
                .unwrap_err();
        assert_eq!(f.path.to_string(), "spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]");
        let f = read_yaml("spec:\n  containers:\n  - name: a\n    resources: {requests: {nvidia.com/gpu: 1}}\n").unwrap_err();
        assert!(f.message.contains("without a limit"), "{}", f.message);
        let f = read_yaml("spec:\n  containers:\n  - name: a\n    resources: {limits: {nvidia.com/gpu: 0.5}}\n").unwrap_err();
        assert!(f.message.contains("whole number"), "{}", f.message);
        let f = read_yaml("spec:\n  containers:\n  - name: a\n    resources: {limits: {nvidia.com/mig-1g.10gb: 1}}\n").unwrap_err();
        assert!(f.message.contains("share of a device"), "{}", f.message);
    }

    #[test]
    fn a_bad_quantity_names_its_field() {
        let f = read_yaml("spec:\n  containers:\n  - name: a\n    resources: {requests: {cpu: 5x}}\n").unwrap_err();
        assert_eq!(f.path.to_string(), "spec.template.spec.containers[0].resources.requests.cpu");
        assert_eq!(f.message, "\"5x\" is not a Kubernetes quantity");
        assert_eq!(f.hint, "write 500m, 2, 6Gi");
    }

    #[test]
    fn two_kinds_of_accelerator_in_one_pod_are_refused() {
        let f = read_yaml(
            "spec:\n  containers:\n  - name: a\n    resources: {limits: {nvidia.com/gpu: 1}}\n  - name: b\n    resources: {limits: {google.com/tpu: 4}}\n",
        )
        .unwrap_err();
        assert!(f.message.contains("both nvidia.com/gpu and google.com/tpu"), "{}", f.message);
    }

    #[test]
    fn a_pod_without_accelerators_asks_for_none() {
        let p = read_yaml("spec:\n  containers:\n  - name: a\n    image: web\n    resources: {requests: {cpu: 100m}}\n").unwrap();
        assert_eq!((p.gpus, p.image.as_str()), (0, "web"));
    }

    #[test]
    fn huge_asks_are_refused_without_overflow() {
        let f = read_yaml(
            "spec:\n  containers:\n  - name: a\n    resources: {limits: {nvidia.com/gpu: 1e19}}\n  - name: b\n    resources: {limits: {nvidia.com/gpu: 1e19}}\n",
        )
        .unwrap_err();
        assert!(f.message.contains("accelerators in one pod"), "{}", f.message);
    }
}
