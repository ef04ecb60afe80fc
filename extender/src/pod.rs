//! The pod being scheduled, read into Twin's scheduler's pod.
//!
//! Requests are read as Twin reads a workload's pod template
//! ([`twin_manifests::read_pod`]): whole accelerators from the containers'
//! limits (`nvidia.com/gpu` and the other [`twin_manifests::ACCELERATORS`]),
//! CPU and memory requests summed with init containers, sidecars, overhead
//! and pod-level resources as Kubernetes sums them; `nodeSelector`,
//! required node affinity and tolerations; `spec.priority`.
//!
//! A pod that asks for no whole accelerator is not Twin's to place: it
//! passes through untouched (no request is read, nothing can fail). That
//! includes pods asking for shares of a device only (MIG, time-slicing),
//! which Twin does not model.
//!
//! Required node affinity with `matchFields` (a node's own name, as
//! DaemonSet pods carry) is left to kube-scheduler, which has enforced all
//! of the pod's affinity before it calls the extender: such an affinity is
//! not read.

use k8s_openapi::api::core::v1::{Container, Pod as K8sPod, PodSpec, PodTemplateSpec};
use twin_manifests::{ACCELERATORS, FieldPath, NodeDemand, Quantity, read_pod};
use twin_scheduler::{Pod, Selector};

/// Why the pod could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PodError {
    /// The pod has no spec.
    #[error("Pod.spec is missing")]
    NoSpec,
    /// A request, selector or toleration Twin cannot read.
    #[error("pod {pod}: {field}: {message}{}", if hint.is_empty() { String::new() } else { format!(" ({hint})") })]
    Unreadable {
        /// `namespace/name`.
        pod: String,
        /// The field, such as `Pod.spec.containers[0].resources.limits[nvidia.com/gpu]`.
        field: String,
        /// What is wrong.
        message: String,
        /// What to write instead; may be empty.
        hint: String,
    },
}

/// A pod that asks for whole accelerators, read.
#[derive(Clone, Debug)]
pub struct PodRequest {
    /// The pod as Twin's scheduler takes it.
    pub pod: Pod,
    /// The accelerator resource it asks for, such as `nvidia.com/gpu`.
    pub resource: &'static str,
    /// Its node selector, required affinity and tolerations, with
    /// Kubernetes' full semantics (the scheduler's pod carries the part it
    /// can express).
    pub nodes: NodeDemand,
}

/// `namespace/name` of a pod, for traces and messages.
pub fn pod_name(pod: &K8sPod) -> String {
    let ns = pod.metadata.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
    format!("{ns}/{}", pod.metadata.name.as_deref().unwrap_or(""))
}

/// Reads the pod; `None` when it asks for no whole accelerator.
/// `taint_keys` are the candidate nodes' taint keys, which a toleration
/// of every key (`operator: Exists` without `key`) stands for.
pub fn read(pod: &K8sPod, taint_keys: &[String]) -> Result<Option<PodRequest>, PodError> {
    let spec = pod.spec.as_ref().ok_or(PodError::NoSpec)?;
    if !asks_for_accelerators(spec) {
        return Ok(None);
    }
    let name = pod_name(pod);
    let mut spec = spec.clone();
    let pinned = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .is_some_and(|r| r.node_selector_terms.iter().any(|t| t.match_fields.as_ref().is_some_and(|f| !f.is_empty())));
    if pinned && let Some(n) = spec.affinity.as_mut().and_then(|a| a.node_affinity.as_mut()) {
        n.required_during_scheduling_ignored_during_execution = None;
    }
    let priority = spec.priority.unwrap_or(0);
    let template = PodTemplateSpec { metadata: None, spec: Some(spec) };
    let demand = read_pod(&template, &FieldPath::of("Pod"), taint_keys).map_err(|f| PodError::Unreadable {
        pod: name.clone(),
        field: f.path.to_string(),
        message: f.message,
        hint: f.hint,
    })?;
    let selector = demand.nodes.scheduler_selector().into_iter().map(|(key, value)| Selector::In { key, values: vec![value] }).collect();
    let mut p = Pod::gpus(0, &name, demand.gpus);
    p.namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    p.priority = priority;
    p.cpu_milli = u32::try_from(demand.cpu_milli).unwrap_or(u32::MAX);
    p.memory_mib = u32::try_from(demand.memory_mib).unwrap_or(u32::MAX);
    p.selector = selector;
    p.tolerations = demand.nodes.tolerations.clone();
    Ok(Some(PodRequest { pod: p, resource: demand.resource, nodes: demand.nodes }))
}

/// Whether any container asks for a whole accelerator (a quantity that is
/// not zero, or that cannot be read: reading it will say why).
fn asks_for_accelerators(spec: &PodSpec) -> bool {
    let asks = |c: &Container| {
        let Some(r) = &c.resources else { return false };
        [&r.requests, &r.limits].into_iter().flatten().any(|m| {
            ACCELERATORS.iter().any(|(name, _)| m.get(*name).is_some_and(|q| Quantity::parse(&q.0).map_or(true, |v| v.count() != Some(0))))
        })
    };
    spec.containers.iter().any(asks) || spec.init_containers.iter().flatten().any(asks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> K8sPod {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_gpu_pod_reads_with_requests_selector_tolerations_and_priority() {
        let p = pod(r#"{"metadata":{"name":"train-0","namespace":"ml"},"spec":{"priority":1000,
                "nodeSelector":{"gpu.type":"H100"},
                "tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}],
                "containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"4"},"requests":{"cpu":"16","memory":"64Gi"}}}]}}"#);
        let r = read(&p, &[]).unwrap().unwrap();
        assert_eq!((r.pod.name.as_str(), r.pod.namespace.as_str(), r.pod.priority), ("ml/train-0", "ml", 1000));
        assert_eq!((r.pod.gpus, r.pod.cpu_milli, r.pod.memory_mib, r.resource), (4, 16_000, 65_536, "nvidia.com/gpu"));
        assert_eq!(r.pod.selector, [Selector::In { key: "gpu.type".into(), values: vec!["H100".into()] }]);
        assert_eq!(r.pod.tolerations.len(), 1);
    }

    #[test]
    fn pods_without_whole_accelerators_pass_through() {
        for json in [
            r#"{"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"1"}}}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"0"}}}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/mig-1g.10gb":"1"}}}]}}"#,
            r#"{"spec":{"containers":[{"name":"c"}],"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n"]}]}]}}}}}"#,
        ] {
            assert!(read(&pod(json), &[]).unwrap().is_none(), "{json}");
        }
        assert_eq!(read(&K8sPod::default(), &[]).unwrap_err(), PodError::NoSpec);
    }

    #[test]
    fn pinned_gpu_pods_leave_their_affinity_to_kube_scheduler() {
        let p = pod(r#"{"metadata":{"name":"ds"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1"}}}],
              "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n"]}]}]}}}}}"#);
        let r = read(&p, &[]).unwrap().unwrap();
        assert_eq!((r.pod.gpus, r.pod.name.as_str()), (1, "default/ds"));
        assert!(r.nodes.refuses(&Default::default(), &[]).is_none());
    }

    #[test]
    fn unreadable_requests_name_their_field() {
        let p = pod(
            r#"{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1"},"requests":{"cpu":"5x"}}}]}}"#,
        );
        let e = read(&p, &[]).unwrap_err().to_string();
        assert_eq!(
            e,
            "pod default/x: Pod.spec.containers[0].resources.requests.cpu: \"5x\" is not a Kubernetes quantity (write 500m, 2, 6Gi)"
        );
        let p = pod(r#"{"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"half"}}}]}}"#);
        assert!(read(&p, &[]).unwrap_err().to_string().contains("limits[nvidia.com/gpu]"));
    }
}
