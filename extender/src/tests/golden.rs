//! The bodies Kubernetes' compatibility test pins down, reproduced.
//!
//! Source: `staging/src/k8s.io/kube-scheduler/extender/v1/types_test.go`,
//! `TestCompatibility`, as in mmorel-35/kubernetes (a fork of
//! kubernetes/kubernetes) at 0b0abd6c11b6103e3f00dfe46975d1494c484a11, the
//! current text (with `FailedAndUnresolvableNodes`); the older text in
//! kubernetes/kubernetes at 9891f82d816be0f7ee3ff1eb080089737ad596c9
//! predates that field and is checked as input only.
//!
//! Go's test marshals each object, compares the bytes with `expectJSON`,
//! then unmarshals the lowercased bytes and compares with the object. Here:
//!
//! - bodies without a Pod or Node in them: encoded byte for byte as Go
//!   does, and decoded back from Go's bytes and from their lowercase;
//! - bodies with a Pod or Node: Go writes its zero values
//!   (`"creationTimestamp":null`, `"containers":null`) where `k8s-openapi`
//!   leaves them out and adds `apiVersion` and `kind`. So Go's bytes are
//!   decoded, encoded again, and compared byte for byte with Go's bytes in
//!   which each Pod and Node is replaced by `k8s-openapi`'s encoding of the
//!   same object: every byte of the envelope (field names, their order,
//!   `null`s) is Go's. The same holds as JSON values, and the lowercase
//!   bytes decode to the same envelope.

use crate::wire::*;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// A Pod as Go writes `&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "podname"}}`.
const GO_POD: &str = r#"{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},"status":{}}"#;

/// A NodeList as Go writes `&corev1.NodeList{Items: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "nodename"}}}}`.
const GO_NODES: &str = r#"{"metadata":{},"items":[{"metadata":{"name":"nodename","creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}]}"#;

const PREEMPTION_RESULT: &str = r#"{"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}"#;

const PREEMPTION_ARGS: &str = r#"{"Pod":{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},"status":{}},"NodeNameToVictims":{"foo":{"Pods":[{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},"status":{}}],"NumPDBViolations":1}},"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}"#;

const ARGS: &str = r#"{"Pod":{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},"status":{}},"Nodes":{"metadata":{},"items":[{"metadata":{"name":"nodename","creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}]},"NodeNames":["node1"]}"#;

const FILTER_RESULT: &str = r#"{"Nodes":{"metadata":{},"items":[{"metadata":{"name":"nodename","creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}]},"NodeNames":["node1"],"FailedNodes":{"foo":"bar"},"FailedAndUnresolvableNodes":{"baz":"qux"},"Error":"myerror"}"#;

/// The older text, before `FailedAndUnresolvableNodes` existed.
const FILTER_RESULT_OLD: &str = r#"{"Nodes":{"metadata":{},"items":[{"metadata":{"name":"nodename","creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}]},"NodeNames":["node1"],"FailedNodes":{"foo":"bar"},"Error":"myerror"}"#;

const BINDING_ARGS: &str = r#"{"PodName":"mypodname","PodNamespace":"mypodnamespace","PodUID":"mypoduid","Node":"mynode"}"#;

const BINDING_RESULT: &str = r#"{"Error":"myerror"}"#;

const HOST_PRIORITY: &str = r#"{"Host":"myhost","Score":1}"#;

/// `k8s-openapi`'s encoding of the object Go wrote as `go`.
fn canonical<T: DeserializeOwned + Serialize>(go: &str) -> String {
    serde_json::to_string(&serde_json::from_str::<T>(go).unwrap()).unwrap()
}

/// Go's bytes with each Pod and NodeList body in `k8s-openapi`'s encoding.
fn with_canonical_bodies(go: &str) -> String {
    go.replace(GO_POD, &canonical::<Pod>(GO_POD)).replace(GO_NODES, &canonical::<NodeList>(GO_NODES))
}

/// Decodes Go's bytes; the encoding is Go's byte for byte (bodies in
/// `k8s-openapi`'s encoding) and equal as a JSON value; the lowercase
/// bytes decode too. Returns (decoded, decoded from lowercase).
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(go: &str) -> (T, T) {
    let ours: T = decode(go.as_bytes()).unwrap();
    let bytes = serde_json::to_string(&ours).unwrap();
    let expected = with_canonical_bodies(go);
    assert_eq!(bytes, expected);
    let as_value = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(as_value(&bytes), as_value(&expected));
    let lower: T = decode(go.to_lowercase().as_bytes()).unwrap();
    (ours, lower)
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta { name: Some(name.into()), ..Default::default() },
        ..Default::default()
    }
}

fn names(list: &Option<NodeList>) -> Vec<Option<&str>> {
    list.iter().flat_map(|l| &l.items).map(|n| n.metadata.name.as_deref()).collect()
}

/// Go's bytes exactly, both ways, and from their lowercase.
fn exact<T: DeserializeOwned + Serialize + PartialEq + Debug>(go: &str, obj: T) {
    assert_eq!(serde_json::to_string(&obj).unwrap(), go);
    assert_eq!(decode::<T>(go.as_bytes()).unwrap(), obj);
    assert_eq!(decode::<T>(go.to_lowercase().as_bytes()).unwrap(), obj);
}

#[test]
fn bodies_without_pods_are_gos_bytes_both_ways() {
    let victims = MetaVictims { pods: vec![MetaPod { uid: "myuid".into() }], num_pdb_violations: 1 };
    exact(PREEMPTION_RESULT, ExtenderPreemptionResult { node_name_to_meta_victims: BTreeMap::from([("foo".into(), victims)]) });
    exact(
        BINDING_ARGS,
        ExtenderBindingArgs {
            pod_name: "mypodname".into(),
            pod_namespace: "mypodnamespace".into(),
            pod_uid: "mypoduid".into(),
            node: "mynode".into(),
        },
    );
    exact(BINDING_RESULT, ExtenderBindingResult { error: "myerror".into() });
    exact(HOST_PRIORITY, HostPriority { host: "myhost".into(), score: 1 });
}

#[test]
fn extender_args() {
    let (ours, lower) = round_trip::<ExtenderArgs>(ARGS);
    for args in [&ours, &lower] {
        assert_eq!(args.pod.metadata.name.as_deref(), Some("podname"));
        assert_eq!(names(&args.nodes), [Some("nodename")]);
        assert_eq!(args.node_names.as_deref(), Some(&["node1".to_string()][..]));
    }
    // Built as Go's test builds its object, it encodes to the same envelope.
    let built = ExtenderArgs {
        pod: serde_json::from_str(GO_POD).unwrap(),
        nodes: Some(serde_json::from_str(GO_NODES).unwrap()),
        node_names: Some(vec!["node1".into()]),
    };
    assert_eq!(built, ours);
}

#[test]
fn extender_filter_result() {
    let (ours, lower) = round_trip::<ExtenderFilterResult>(FILTER_RESULT);
    for r in [&ours, &lower] {
        assert_eq!(names(&r.nodes), [Some("nodename")]);
        assert_eq!(r.node_names.as_deref(), Some(&["node1".to_string()][..]));
        assert_eq!(r.failed_nodes, BTreeMap::from([("foo".to_string(), "bar".to_string())]));
        assert_eq!(r.failed_and_unresolvable_nodes, BTreeMap::from([("baz".to_string(), "qux".to_string())]));
        assert_eq!(r.error, "myerror");
    }
}

#[test]
fn the_older_filter_result_reads_and_comes_back_with_the_newer_field_nil() {
    let old: ExtenderFilterResult = decode(FILTER_RESULT_OLD.as_bytes()).unwrap();
    assert!(old.failed_and_unresolvable_nodes.is_empty());
    let expected = with_canonical_bodies(FILTER_RESULT_OLD).replace(r#","Error""#, r#","FailedAndUnresolvableNodes":null,"Error""#);
    assert_eq!(serde_json::to_string(&old).unwrap(), expected);
}

#[test]
fn extender_preemption_args() {
    let (ours, lower) = round_trip::<ExtenderPreemptionArgs>(PREEMPTION_ARGS);
    for a in [&ours, &lower] {
        assert_eq!(a.pod.metadata.name.as_deref(), Some("podname"));
        let v = &a.node_name_to_victims["foo"];
        assert_eq!((v.pods.len(), v.pods[0].metadata.name.as_deref(), v.num_pdb_violations), (1, Some("podname"), 1));
        assert_eq!(a.node_name_to_meta_victims["foo"], MetaVictims { pods: vec![MetaPod { uid: "myuid".into() }], num_pdb_violations: 1 });
    }
    assert_eq!(ours.pod.metadata, pod("podname").metadata);
}

#[test]
fn a_host_priority_list_is_a_bare_array() {
    let list: HostPriorityList = vec![HostPriority { host: "myhost".into(), score: 1 }, HostPriority { host: "b".into(), score: 10 }];
    let s = serde_json::to_string(&list).unwrap();
    assert_eq!(s, format!(r#"[{HOST_PRIORITY},{{"Host":"b","Score":10}}]"#));
    assert_eq!(decode::<HostPriorityList>(s.to_lowercase().as_bytes()).unwrap(), list);
}
