//! Arbitrary JSON-ish input through decode and decide never panics, and
//! every answer accounts for every candidate node once.

use crate::wire::{ExtenderArgs, MAX_EXTENDER_PRIORITY, decode};
use crate::{Extender, NodeCache, NodeReader};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use twin_scheduler::Profile;

/// Quantities, mostly good.
fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => prop_oneof![Just("0"), Just("1"), Just("2"), Just("8"), Just("500m"), Just("96"), Just("1000Gi"), Just("255"), Just("256"), Just("1e9")]
            .prop_map(|s| json!(s)),
        2 => "[-+0-9.eEkmMGTPi]{0,8}".prop_map(|s| json!(s)),
        1 => prop_oneof![any::<i64>().prop_map(|n| json!(n)), Just(Value::Null)],
    ]
}

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("amd.com/gpu".to_string()),
        Just("nvidia.com/mig-1g.10gb".to_string()),
        Just("cpu".to_string()),
        Just("cpu".to_string()),
        Just("memory".to_string()),
        "[a-z./]{1,6}",
    ]
}

/// Resources, with a GPU count `gpu` of the time.
fn resources(gpu: f64) -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(gpu, prop_oneof![Just("1"), Just("2"), Just("4"), Just("8")]),
        prop::collection::vec((resource(), quantity()), 0..3),
    )
        .prop_map(|(gpus, kv)| {
            let mut m: Map<String, Value> = kv.into_iter().collect();
            if let Some(g) = gpus {
                m.insert("nvidia.com/gpu".into(), json!(g));
            }
            Value::Object(m)
        })
}

/// A node's allocatable: mostly a plausible GPU node.
fn allocatable() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (prop_oneof![Just("1"), Just("4"), Just("8")], prop_oneof![Just("8"), Just("96")], prop_oneof![Just("64Gi"), Just("1000Gi")])
            .prop_map(|(g, c, m)| json!({"nvidia.com/gpu": g, "cpu": c, "memory": m, "pods": "110"})),
        1 => resources(0.8),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![Just("gpu.type".to_string()), Just("H100".to_string()), Just("spot".to_string()), "[a-zA-Z0-9./-]{0,6}"]
}

fn labels() -> impl Strategy<Value = Value> {
    prop::collection::vec((word(), word()), 0..3).prop_map(|kv| json!(kv.into_iter().collect::<std::collections::BTreeMap<_, _>>()))
}

/// Any JSON, a few levels deep.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| json!(f)),
        any::<i64>().prop_map(|n| json!(n)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Sometimes the real thing, sometimes junk.
fn or_junk(good: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop_oneof![30 => good, 1 => junk()]
}

fn taint() -> impl Strategy<Value = Value> {
    (word(), word(), prop_oneof![Just("NoSchedule"), Just("PreferNoSchedule"), Just("NoExecute"), Just("Bad")])
        .prop_map(|(k, v, e)| json!({"key": k, "value": v, "effect": e}))
}

fn node() -> impl Strategy<Value = Value> {
    (
        prop_oneof![4 => prop_oneof![Just("n1"), Just("n2"), Just("n3")], 1 => Just("")],
        or_junk(labels()),
        prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(taint(), 1..3)],
        prop::bool::weighted(0.1),
        or_junk(allocatable()),
    )
        .prop_map(|(name, labels, taints, cordoned, alloc)| {
            json!({"metadata": {"name": name, "labels": labels},
                   "spec": {"taints": taints, "unschedulable": cordoned},
                   "status": {"allocatable": alloc}})
        })
}

/// A pod's limits and requests: mostly a plausible GPU pod.
fn pod_resources() -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        4 => (prop_oneof![Just("1"), Just("2"), Just("8"), Just("16")], prop_oneof![Just("0"), Just("4"), Just("100")], prop_oneof![Just("1Gi"), Just("500Gi")])
            .prop_map(|(g, c, m)| (json!({"nvidia.com/gpu": g}), json!({"cpu": c, "memory": m}))),
        1 => (resources(0.8), resources(0.05)),
    ]
}

fn toleration() -> impl Strategy<Value = Value> {
    (word(), prop_oneof![Just("Exists"), Just("Equal")], word(), prop_oneof![4 => Just(""), 4 => Just("NoSchedule"), 1 => Just("Bad")])
        .prop_map(|(k, op, v, e)| json!({"key": k, "operator": op, "value": v, "effect": e}))
}

fn pod() -> impl Strategy<Value = Value> {
    (
        or_junk(pod_resources().prop_map(|(l, r)| json!({"limits": l, "requests": r}))),
        prop_oneof![3 => Just(json!({})), 1 => or_junk(labels())],
        prop::collection::vec(or_junk(toleration()), 0..2),
        any::<i32>(),
    )
        .prop_map(|(resources, selector, tolerations, priority)| {
            json!({"metadata": {"name": "p", "namespace": "ns"},
                   "spec": {"priority": priority, "nodeSelector": selector, "tolerations": tolerations,
                            "containers": [{"name": "c", "resources": resources}]}})
        })
}

fn args() -> impl Strategy<Value = Value> {
    (
        or_junk(pod()),
        prop::option::of(or_junk(prop::collection::vec(or_junk(node()), 0..5).prop_map(|items| json!({"items": items})))),
        prop::option::of(prop::collection::vec(prop_oneof![Just("n1"), Just("n2"), Just("n4"), Just("")], 0..5)),
        prop_oneof![Just(("Pod", "Nodes", "NodeNames")), Just(("pod", "nodes", "nodenames")), Just(("POD", "nodes", "nodeNames"))],
    )
        .prop_map(|(pod, nodes, names, (kp, kn, knn))| {
            let mut m = Map::new();
            m.insert(kp.into(), pod);
            m.insert(kn.into(), nodes.unwrap_or(Value::Null));
            m.insert(knn.into(), names.map_or(Value::Null, |n| json!(n)));
            Value::Object(m)
        })
}

/// Every candidate once: in the answer or failed with why, never both;
/// scores 0 to 10, each host once.
fn decide_checked(x: &mut Extender, args: &ExtenderArgs) {
    let r = x.filter(args);
    let candidates: BTreeSet<String> = match (&args.nodes, &args.node_names) {
        (Some(l), _) => l.items.iter().map(|n| n.metadata.name.clone().unwrap_or_default()).collect(),
        (None, Some(n)) => n.iter().cloned().collect(),
        (None, None) => BTreeSet::new(),
    };
    if r.error.is_empty() {
        let passed: Vec<String> = match (&r.nodes, &r.node_names, &args.nodes) {
            (Some(l), _, Some(_)) => l.items.iter().map(|n| n.metadata.name.clone().unwrap_or_default()).collect(),
            (_, Some(n), None) => n.clone(),
            _ => Vec::new(),
        };
        let failed: Vec<&String> = r.failed_nodes.keys().chain(r.failed_and_unresolvable_nodes.keys()).collect();
        let mut all: Vec<&String> = passed.iter().chain(failed).collect();
        all.sort();
        let unique = all.len();
        all.dedup();
        assert_eq!(unique, all.len(), "a node both passed and failed: {r:?}");
        assert_eq!(all.into_iter().cloned().collect::<BTreeSet<_>>(), candidates);
    }
    let p = x.prioritize(args);
    let hosts: BTreeSet<&str> = p.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(hosts.len(), p.len());
    assert!(p.iter().all(|h| (0..=MAX_EXTENDER_PRIORITY).contains(&h.score) && !h.host.is_empty()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_ish_requests_never_panic(body in args(), profile in prop_oneof![Just("default"), Just("fgd"), Just("gavel"), Just("spread")]) {
        let mut x = Extender::new(Profile::builtin(profile).unwrap(), NodeCache::new(NodeReader::default()));
        let bytes = serde_json::to_vec(&body).unwrap();
        if let Ok(args) = decode::<ExtenderArgs>(&bytes) {
            decide_checked(&mut x, &args);
            // Again by name, from the cache the first request fed.
            let names = args.nodes.as_ref().map(|l| l.items.iter().filter_map(|n| n.metadata.name.clone()).collect());
            decide_checked(&mut x, &ExtenderArgs { nodes: None, node_names: names, ..args });
        }
    }

    #[test]
    fn any_bytes_are_decoded_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..64), body in junk()) {
        let _ = decode::<ExtenderArgs>(&bytes);
        let _ = decode::<ExtenderArgs>(&serde_json::to_vec(&body).unwrap());
        let _ = decode::<crate::wire::HostPriorityList>(&serde_json::to_vec(&body).unwrap());
    }
}
