use super::*;
use crate::nodes::NodeReader;
use crate::wire::decode;
use k8s_openapi::api::core::v1::{Node, Pod};

fn node(name: &str, gpus: u32, labels: &str, extra_spec: &str) -> Node {
    serde_json::from_str(&format!(
        r#"{{"metadata":{{"name":"{name}","labels":{{{labels}}}}},"spec":{{{extra_spec}}},
            "status":{{"allocatable":{{"nvidia.com/gpu":"{gpus}","cpu":"96","memory":"1000Gi"}}}}}}"#
    ))
    .unwrap()
}

fn gpu_pod(gpus: u32, spec_extra: &str) -> Pod {
    serde_json::from_str(&format!(
        r#"{{"metadata":{{"name":"p","namespace":"ml"}},"spec":{{{spec_extra}"containers":[{{"name":"c","resources":{{"limits":{{"nvidia.com/gpu":"{gpus}"}},"requests":{{"cpu":"8"}}}}}}]}}}}"#
    ))
    .unwrap()
}

fn full(pod: Pod, nodes: Vec<Node>) -> ExtenderArgs {
    ExtenderArgs { pod, nodes: Some(NodeList { items: nodes, metadata: Default::default() }), node_names: None }
}

fn names(pod: Pod, names: &[&str]) -> ExtenderArgs {
    ExtenderArgs { pod, nodes: None, node_names: Some(names.iter().map(|n| n.to_string()).collect()) }
}

fn extender(profile: &str) -> Extender {
    Extender::new(Profile::builtin(profile).unwrap(), NodeCache::new(NodeReader::default()))
}

fn fleet() -> Vec<Node> {
    vec![
        node("h100-a", 8, r#""gpu.type":"H100","twin.dev/price-per-hour":"80""#, ""),
        node("h100-b", 8, r#""gpu.type":"H100","twin.dev/price-per-hour":"80""#, ""),
        node("a100", 8, r#""gpu.type":"A100","twin.dev/price-per-hour":"32""#, ""),
        node("t4", 1, r#""gpu.type":"T4","twin.dev/price-per-hour":"1""#, ""),
        node(
            "spot",
            8,
            r#""gpu.type":"H100","twin.dev/price-per-hour":"30""#,
            r#""taints":[{"key":"spot","value":"true","effect":"NoSchedule"}]"#,
        ),
        node("cordoned", 8, r#""gpu.type":"H100""#, r#""unschedulable":true"#),
    ]
}

#[test]
fn filter_fails_each_node_with_its_reason_and_keeps_the_rest() {
    let mut x = extender("default");
    let r = x.filter(&full(gpu_pod(2, ""), fleet()));
    let kept: Vec<_> = r.nodes.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
    assert_eq!(kept, ["h100-a", "h100-b", "a100"]);
    assert!(r.node_names.is_none() && r.failed_nodes.is_empty() && r.error.is_empty());
    let f = &r.failed_and_unresolvable_nodes;
    assert_eq!(f["t4"], "resource-fit: too few accelerators on the node");
    assert_eq!(f["spot"], "node-affinity: taint spot=true:NoSchedule not tolerated");
    assert_eq!(f["cordoned"], "node is cordoned (spec.unschedulable)");
}

#[test]
fn selector_and_tolerations_are_the_pods() {
    let mut x = extender("default");
    let pod = gpu_pod(2, r#""nodeSelector":{"gpu.type":"H100"},"tolerations":[{"key":"spot","operator":"Exists"}],"#);
    let d = x.decide(&full(pod, fleet()), true).unwrap();
    let fits: Vec<&str> = d.verdicts.iter().filter(|(_, v)| v.fits()).map(|(n, _)| n.as_str()).collect();
    assert_eq!(fits, ["h100-a", "h100-b", "spot"]);
    assert_eq!(d.verdict("a100"), Some(&Verdict::Refused(Rejection::Affinity("gpu.type=A100, not H100".into()))));
}

#[test]
fn scores_are_0_to_10_with_the_best_node_10() {
    let mut x = extender("cost-aware");
    let scores = x.prioritize(&full(gpu_pod(8, ""), fleet()));
    let by: BTreeMap<&str, i64> = scores.iter().map(|h| (h.host.as_str(), h.score)).collect();
    assert_eq!(by.len(), 6, "every candidate once: {scores:?}");
    assert_eq!(by["a100"], 10, "{scores:?}");
    assert!(by["h100-a"] < 10 && by["h100-a"] == by["h100-b"], "{scores:?}");
    assert_eq!((by["t4"], by["spot"], by["cordoned"]), (0, 0, 0));
}

#[test]
fn alike_nodes_are_scheduled_as_one_class() {
    let mut x = extender("default");
    let d = x.decide(&full(gpu_pod(1, ""), fleet()), true).unwrap();
    let t = d.trace.unwrap();
    // h100-a and h100-b look alike; the cordoned and tainted nodes never reach the scheduler.
    assert_eq!((t.classes, t.nodes), (3, 3), "{t}");
}

#[test]
fn a_pod_without_accelerators_passes_through_untouched() {
    let mut x = extender("default");
    let pod: Pod = serde_json::from_str(r#"{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c"}]}}"#).unwrap();
    let mut nodes = fleet();
    nodes.push(serde_json::from_str(r#"{"metadata":{"name":"broken"},"status":{"allocatable":{"cpu":"x"}}}"#).unwrap());
    let args = full(pod, nodes.clone());
    let r = x.filter(&args);
    assert_eq!(r.nodes.unwrap().items, nodes);
    assert!(r.failed_nodes.is_empty() && r.failed_and_unresolvable_nodes.is_empty());
    assert!(x.prioritize(&args).iter().all(|h| h.score == 0));
}

#[test]
fn node_names_are_answered_from_the_cache_fed_by_full_lists() {
    let mut x = extender("default");
    let r = x.filter(&names(gpu_pod(2, ""), &["h100-a", "t4"]));
    assert_eq!(r.node_names.as_deref(), Some(&[][..]));
    assert_eq!(r.failed_nodes["h100-a"], "node not in the extender's cache: neither the node feed nor a Nodes list has carried it yet");
    x.filter(&full(gpu_pod(1, ""), fleet()));
    let r = x.filter(&names(gpu_pod(2, ""), &["h100-a", "t4", "h100-a", "gone"]));
    assert_eq!(r.node_names.as_deref(), Some(&["h100-a".to_string()][..]));
    assert!(r.nodes.is_none());
    assert_eq!(r.failed_and_unresolvable_nodes["t4"], "resource-fit: too few accelerators on the node");
    assert!(r.failed_nodes.contains_key("gone"));
    let p = x.prioritize(&names(gpu_pod(2, ""), &["h100-a", "h100-a", "a100"]));
    assert_eq!(p.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(), ["h100-a", "a100"], "each host once");
}

#[test]
fn an_unreadable_node_is_failed_with_why_and_an_unreadable_pod_fails_the_request() {
    let mut x = extender("default");
    let mut nodes = fleet();
    nodes.push(serde_json::from_str(r#"{"metadata":{"name":"broken"},"status":{"allocatable":{"nvidia.com/gpu":"0.5"}}}"#).unwrap());
    let r = x.filter(&full(gpu_pod(1, ""), nodes));
    assert_eq!(
        r.failed_and_unresolvable_nodes["broken"],
        "node cannot be read: status.allocatable[nvidia.com/gpu]: \"0.5\" is not a whole number of devices"
    );
    let bad: Pod = serde_json::from_str(
        r#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","resources":{"requests":{"nvidia.com/gpu":"1"}}}]}}"#,
    )
    .unwrap();
    let r = x.filter(&full(bad.clone(), fleet()));
    assert!(r.error.contains("without a limit"), "{}", r.error);
    assert!(r.nodes.is_none() && r.node_names.is_none());
    assert!(x.prioritize(&full(bad, fleet())).iter().all(|h| h.score == 0));
}

#[test]
fn the_answer_matches_the_in_process_scheduler() {
    // The same pod and nodes through Twin's scheduler directly: the node it
    // binds is one the extender scores 10.
    let mut x = extender("default");
    let args = full(gpu_pod(2, ""), fleet());
    let d = x.decide(&args, false).unwrap();
    let mut profile = Profile::builtin("default").unwrap();
    let mut cluster = Cluster::default();
    for n in &fleet() {
        let r = NodeReader::default().read(n).unwrap();
        if r.cordoned || !r.taints.is_empty() {
            continue;
        }
        let labels = r.labels.clone();
        let s = cluster.add_shape(r.shape("nvidia.com/gpu", labels));
        cluster.add_node(&r.name, s);
    }
    let request = pod::read(&args.pod, &[]).unwrap().unwrap();
    let Outcome::Bind { node, .. } = profile.schedule(&request.pod, &cluster) else { panic!("unschedulable") };
    let chosen = &cluster.node(node).unwrap().name;
    assert_eq!(d.verdict(chosen), Some(&Verdict::Fits { score: MAX_EXTENDER_PRIORITY }), "{chosen}: {:?}", d.verdicts);
}

#[test]
fn scaling_is_relative_to_the_best() {
    assert_eq!(scale(300.0, 300.0), 10);
    assert_eq!(scale(200.0, 300.0), 6);
    assert_eq!(scale(0.0, 300.0), 0);
    assert_eq!(scale(0.0, 0.0), 0);
    assert_eq!(scale(f64::NAN, 1.0), 0);
}

#[test]
fn a_request_without_nodes_decides_nothing() {
    let mut x = extender("default");
    let args: ExtenderArgs = decode(br#"{"Pod":{"spec":{"containers":[]}}}"#).unwrap();
    let r = x.filter(&args);
    assert_eq!(r, ExtenderFilterResult::default());
    assert!(x.prioritize(&args).is_empty());
}
