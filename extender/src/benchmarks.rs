//! The fleet and the requests that `benches/extender.rs` and `twin bench
//! --only extender` time: Node objects as `kubectl get nodes -o json`
//! writes them for an EKS cluster with Karpenter, and a training pod asking
//! for 8 GPUs.
//!
//! Everything is a function of its arguments (no randomness), so two runs
//! send the same bytes.

use crate::wire::{ExtenderArgs, NodeList};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

/// The node shapes of the fleet: instance type, GPUs, model label, CPU and
/// memory allocatable, and how many of every 20 nodes have it.
const SHAPES: &[(&str, u32, &str, &str, &str, usize)] = &[
    ("p5.48xlarge", 8, "NVIDIA-H100-80GB-HBM3", "191450m", "2003Gi", 6),
    ("p4d.24xlarge", 8, "NVIDIA-A100-SXM4-40GB", "95690m", "1120Gi", 5),
    ("g5.12xlarge", 4, "NVIDIA-A10G", "47810m", "178Gi", 4),
    ("g6.xlarge", 1, "NVIDIA-L4", "3920m", "14Gi", 3),
    ("m7i.8xlarge", 0, "", "31850m", "120Gi", 2),
];

/// Prices per node-hour of the fleet's instance types (on-demand, us-east-1),
/// for the extender's price table.
pub const PRICES: &[(&str, f64)] =
    &[("p5.48xlarge", 98.32), ("p4d.24xlarge", 32.77), ("g5.12xlarge", 5.67), ("g6.xlarge", 0.8048), ("m7i.8xlarge", 1.6128)];

/// The name of node `i`, as EKS names nodes.
pub fn node_name(i: usize) -> String {
    format!("ip-10-{}-{}-{}.ec2.internal", 16 + i / 65_536 % 200, i / 256 % 256, i % 256)
}

/// Node `i` of the fleet as JSON: the shape by `i`, one in three on spot,
/// four zones, GPU nodes tainted `nvidia.com/gpu=present:NoSchedule`, one
/// in 50 cordoned; with the conditions, addresses, node info and images a
/// real Node carries (about 5 KB of JSON).
pub fn node_json(i: usize) -> Value {
    let total: usize = SHAPES.iter().map(|s| s.5).sum();
    let mut k = (i * 7) % total;
    let shape = SHAPES.iter().find(|s| {
        if k < s.5 {
            true
        } else {
            k -= s.5;
            false
        }
    });
    let (instance, gpus, product, cpu, memory, _) = *shape.unwrap_or(&SHAPES[0]);
    let spot = i.is_multiple_of(3);
    let zone = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"][i % 4];
    let name = node_name(i);
    let family = instance.split('.').next().unwrap_or(instance);
    let pool = format!("{family}-{}", if spot { "spot" } else { "od" });
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": instance,
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": "us-east-1",
        "failure-domain.beta.kubernetes.io/zone": zone,
        "k8s.io/cloud-provider-aws": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "karpenter.k8s.aws/instance-category": &family[..1],
        "karpenter.k8s.aws/instance-family": family,
        "karpenter.sh/capacity-type": if spot { "spot" } else { "on-demand" },
        "karpenter.sh/initialized": "true",
        "karpenter.sh/nodepool": pool,
        "karpenter.sh/registered": "true",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": instance,
        "topology.ebs.csi.aws.com/zone": zone,
        "topology.k8s.aws/zone-id": format!("use1-az{}", i % 4 + 1),
        "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": zone,
    });
    let mut allocatable = json!({
        "cpu": cpu, "ephemeral-storage": "95491281146", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
        "memory": memory, "pods": "110",
    });
    let mut taints = Vec::new();
    if gpus > 0 {
        labels["nvidia.com/gpu.product"] = json!(product);
        labels["nvidia.com/gpu.count"] = json!(gpus.to_string());
        labels["nvidia.com/gpu.present"] = json!("true");
        allocatable["nvidia.com/gpu"] = json!(gpus.to_string());
        taints.push(json!({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}));
    }
    let cordoned = i % 50 == 49;
    if cordoned {
        taints.push(json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2025-06-01T10:00:00Z"}));
    }
    let images: Vec<Value> = (0..8)
        .map(|j| {
            json!({"names": [format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/team-{j}/image@sha256:{:064x}", i * 8 + j),
                             format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/team-{j}/image:v1.{j}")],
                   "sizeBytes": 500_000_000 + j * 1_000_000})
        })
        .collect();
    let ip = format!("10.{}.{}.{}", 16 + i / 65_536 % 200, i / 256 % 256, i % 256);
    let condition = |t: &str, s: &str, reason: &str| {
        json!({"type": t, "status": s, "lastHeartbeatTime": "2025-06-01T12:00:00Z", "lastTransitionTime": "2025-06-01T10:00:00Z",
               "reason": reason, "message": format!("kubelet reports {reason}")})
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": format!("{:08x}-0000-4000-8000-{:012x}", i, i),
            "resourceVersion": (1_000_000 + i).to_string(),
            "creationTimestamp": "2025-06-01T10:00:00Z",
            "labels": labels,
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": ip,
                "karpenter.k8s.aws/ec2nodeclass-hash": "1234567890123456789",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "providerID": format!("aws:///{zone}/i-{:017x}", i),
            "taints": taints,
            "unschedulable": cordoned,
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "InternalDNS", "address": name}, {"type": "Hostname", "address": name}],
            "allocatable": allocatable,
            "capacity": allocatable,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID"),
                condition("Ready", "True", "KubeletReady"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {
                "architecture": "amd64", "bootID": format!("{:032x}", i), "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.134-152.225.amzn2023.x86_64", "kubeProxyVersion": "v1.33.0-eks-802817d",
                "kubeletVersion": "v1.33.0-eks-802817d", "machineID": format!("ec2{:029x}", i), "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.7.20250512", "systemUUID": format!("ec2{:029x}", i),
            },
        },
    })
}

/// The first `n` nodes of the fleet.
pub fn fleet(n: usize) -> Vec<Node> {
    (0..n).filter_map(|i| serde_json::from_value(node_json(i)).ok()).collect()
}

/// The fleet's first `n` nodes as `kubectl get nodes -o json` writes them.
pub fn node_list_json(n: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": (0..n).map(node_json).collect::<Vec<_>>()})
}

/// The pod being placed: a training worker asking for 8 GPUs (limits),
/// 64 CPUs and 512 GiB, tolerating the GPU taint, with a priority and
/// the labels policies read.
pub fn pod_json() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "llama-finetune-worker-3",
            "namespace": "research",
            "uid": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
            "labels": {"app": "llama-finetune", "team": "research", "critical": "false", "training.kubeflow.org/replica-type": "worker"},
            "annotations": {"kubectl.kubernetes.io/default-container": "trainer"},
        },
        "spec": {
            "schedulerName": "default-scheduler",
            "priority": 1000,
            "priorityClassName": "training",
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "containers": [{
                "name": "trainer",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/research/llama-finetune:v2.3.1",
                "args": ["--model", "meta-llama/Llama-3.1-70B", "--nodes", "4"],
                "resources": {
                    "limits": {"nvidia.com/gpu": "8", "memory": "600Gi"},
                    "requests": {"nvidia.com/gpu": "8", "cpu": "64", "memory": "512Gi"},
                },
            }],
        },
        "status": {"phase": "Pending"},
    })
}

/// The pod as an object.
pub fn pod() -> Pod {
    serde_json::from_value(pod_json()).unwrap_or_default()
}

/// A request as kube-scheduler sends it with `nodeCacheCapable: true`:
/// the pod and the names of the first `n` nodes.
pub fn by_names(n: usize) -> ExtenderArgs {
    ExtenderArgs { pod: pod(), nodes: None, node_names: Some((0..n).map(node_name).collect()) }
}

/// A request as kube-scheduler sends it with `nodeCacheCapable: false`:
/// the pod and the first `n` nodes in full.
pub fn full(n: usize) -> ExtenderArgs {
    ExtenderArgs { pod: pod(), nodes: Some(NodeList { items: fleet(n), metadata: Default::default() }), node_names: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Extender, NodeCache, NodeReader};
    use twin_scheduler::Profile;

    #[test]
    fn the_fleet_reads_and_the_pod_fits_part_of_it() {
        let reader = NodeReader::new(PRICES.iter().map(|(t, p)| (t.to_string(), *p)).collect()).unwrap();
        let mut x = Extender::new(Profile::builtin("cost-aware").unwrap(), NodeCache::new(reader));
        let full = full(200);
        assert_eq!(full.nodes.as_ref().unwrap().items.len(), 200);
        let d = x.decide(&full, true).unwrap();
        let fits = d.verdicts.iter().filter(|(_, v)| v.fits()).count();
        assert!(fits > 20 && fits < 150, "{fits} of 200 fit");
        assert_eq!(x.cache.len(), 200);
        let by_names = x.filter(&by_names(200));
        assert_eq!(by_names.node_names.unwrap().len(), fits);
        let size = serde_json::to_vec(&node_json(7)).unwrap().len();
        assert!((2_000..8_000).contains(&size), "{size} bytes a node");
    }
}
