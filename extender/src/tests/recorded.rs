//! A filter request as kube-scheduler sends it, answered as Twin's
//! scheduler decides in process.
//!
//! `fixtures/kube-scheduler-filter.json` is an `ExtenderArgs` body in the
//! shape kube-scheduler (v1.33, `nodeCacheCapable: false`) marshals it:
//! Go's field order, `"NodeNames":null`, a Job's pod after admission (service
//! account volume, defaulted fields, `qosClass`) asking for 4
//! `nvidia.com/gpu`, and seven EKS nodes with Karpenter's labels. It was
//! written from the Kubernetes types, not captured from a live cluster.

use crate::placement::PlacementPolicy;
use crate::wire::{ExtenderArgs, MAX_EXTENDER_PRIORITY, decode};
use crate::{Extender, NodeCache, NodeReader, Rejection, Verdict, benchmarks, pod};
use twin_scheduler::{Cluster, Outcome, Profile};

/// The recorded body.
pub const FILTER: &str = include_str!("fixtures/kube-scheduler-filter.json");

fn extender() -> Extender {
    let prices = benchmarks::PRICES.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    Extender::new(Profile::builtin("cost-aware").unwrap(), NodeCache::new(NodeReader::new(prices).unwrap()))
}

#[test]
fn the_recorded_request_is_answered_as_the_scheduler_decides() {
    let args: ExtenderArgs = decode(FILTER.as_bytes()).unwrap();
    let mut x = extender();
    let filtered = x.filter(&args);
    let kept: Vec<_> = filtered.nodes.as_ref().unwrap().items.iter().filter_map(|n| n.metadata.name.as_deref()).collect();
    assert_eq!(kept, ["ip-10-0-1-11.ec2.internal", "ip-10-0-1-12.ec2.internal", "ip-10-0-2-21.ec2.internal", "ip-10-0-3-31.ec2.internal"]);
    let failed = &filtered.failed_and_unresolvable_nodes;
    assert_eq!(failed["ip-10-0-3-32.ec2.internal"], "resource-fit: too few accelerators on the node");
    assert_eq!(failed["ip-10-0-4-41.ec2.internal"], "resource-fit: too few accelerators on the node");
    assert_eq!(failed["ip-10-0-1-13.ec2.internal"], "node is cordoned (spec.unschedulable)");
    assert!(filtered.failed_nodes.is_empty() && filtered.error.is_empty());

    // Twin's scheduler over the same nodes, in process: the node it binds
    // is the one the extender scores 10, and the scores rank as its totals.
    let decision = x.decide(&args, false).unwrap();
    let request = pod::read(&args.pod, &["nvidia.com/gpu".to_string()]).unwrap().unwrap();
    let mut cluster = Cluster::default();
    let reader = x.cache.reader().clone();
    for node in &args.nodes.as_ref().unwrap().items {
        let r = reader.read(node).unwrap();
        if r.cordoned || request.nodes.refuses(&r.labels, &r.taints).is_some() {
            continue;
        }
        let shape = cluster.add_shape(r.shape(request.resource, Default::default()));
        cluster.add_node(&r.name, shape);
    }
    let mut profile = Profile::builtin("cost-aware").unwrap();
    let Outcome::Bind { node, trace, .. } = profile.schedule(&request.pod, &cluster) else { panic!("unschedulable") };
    let chosen = &cluster.node(node).unwrap().name;
    assert_eq!(decision.verdict(chosen), Some(&Verdict::Fits { score: MAX_EXTENDER_PRIORITY }), "{chosen}: {:?}", decision.verdicts);
    let scores = x.prioritize(&args);
    for s in &trace.top {
        let ours = scores.iter().find(|h| h.host == s.node).map(|h| h.score);
        let best = trace.top.iter().map(|t| t.total).fold(0.0, f64::max);
        assert_eq!(ours, Some(((s.total / best) * 10.0).floor() as i64), "{}: {scores:?}", s.node);
    }
}

#[test]
fn the_shipped_placement_policy_keeps_the_critical_pod_off_spot() {
    let rego = include_str!("../../../policies/placement.rego");
    let policy = PlacementPolicy::compile(&[("policies/placement.rego".into(), rego.into())], None).unwrap();
    let mut x = extender().with_policy(policy);
    let args: ExtenderArgs = decode(FILTER.as_bytes()).unwrap();
    let d = x.decide(&args, true).unwrap();
    let Some(Verdict::Refused(r @ Rejection::Policy(_))) = d.verdict("ip-10-0-1-12.ec2.internal") else {
        panic!("the spot node is not refused by the policy: {:?}", d.verdicts)
    };
    assert_eq!(r.source(), "policy");
    assert_eq!(r.to_string(), "policy critical-not-on-spot: llama-finetune-worker-0 is critical and may not run on spot pool h100-spot");
    assert!(d.verdict("ip-10-0-1-11.ec2.internal").unwrap().fits(), "on-demand stays");
    let filtered = Extender::filter_result(&args, &d);
    assert!(filtered.failed_and_unresolvable_nodes["ip-10-0-1-12.ec2.internal"].contains("critical-not-on-spot"));
    // Prioritize asks the same questions again: answered from the cache.
    let asked = x.policy.as_ref().unwrap().stats();
    let scores = x.prioritize(&args);
    assert_eq!(scores.iter().find(|h| h.host == "ip-10-0-1-12.ec2.internal").map(|h| h.score), Some(0));
    let again = x.policy.as_ref().unwrap().stats();
    assert_eq!(again.cached - asked.cached, again.asked - asked.asked, "{asked:?} then {again:?}");
}
