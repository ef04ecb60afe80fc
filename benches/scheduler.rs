//! One placement decision with the default profile on a 10,000-node fleet,
//! nodes partly filled, against the same decision evaluated node by node (the
//! baseline: every node given a shape of its own, so no two share a class
//! and every plugin runs on every node, as kube-scheduler does).
//!
//! `cargo bench -p twin-benches --bench scheduler`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use twin_scheduler::{Capacity, Cluster, NodeShape, Outcome, Pod, Profile};

/// 10,000 nodes in eight pools (H100, A100, L4; on-prem, reserved, spot,
/// on-demand), each node filled with between 0 and 8 accelerators of work;
/// with `node_by_node`, each node has its own shape (same figures, its own
/// pool name), so nothing is shared between nodes.
pub fn fleet(node_by_node: bool) -> Cluster {
    let mut c = Cluster::default();
    let pools = [
        ("h100-onprem", "H100", Capacity::OnPrem, 10.6, 0.0),
        ("h100-reserved", "H100", Capacity::Reserved, 3.1, 0.0),
        ("h100-spot", "H100", Capacity::Spot, 2.8, 0.0002),
        ("h100-od", "H100", Capacity::OnDemand, 6.88, 0.0),
        ("a100-spot", "A100", Capacity::Spot, 1.4, 0.0001),
        ("a100-od", "A100", Capacity::OnDemand, 3.43, 0.0),
        ("l4-spot", "L4", Capacity::Spot, 0.3, 0.0003),
        ("l4-od", "L4", Capacity::OnDemand, 0.8, 0.0),
    ];
    let shapes: Vec<_> = pools
        .iter()
        .map(|(name, model, cap, price, hazard)| {
            c.add_shape(NodeShape {
                capacity: *cap,
                price_per_gpu_hour: *price,
                interruption_per_hour: *hazard,
                ..NodeShape::gpu_node(name, model, 8)
            })
        })
        .collect();
    let mut id = 0u64;
    for i in 0..10_000u32 {
        let shape = if node_by_node {
            let (name, model, cap, price, hazard) = pools[i as usize % pools.len()];
            c.add_shape(NodeShape {
                capacity: cap,
                price_per_gpu_hour: price,
                interruption_per_hour: hazard,
                ..NodeShape::gpu_node(&format!("{name}-{i}"), model, 8)
            })
        } else {
            shapes[i as usize % shapes.len()]
        };
        let n = c.add_node(&format!("node-{i}"), shape);
        let used = (i.wrapping_mul(2_654_435_761) >> 7) % 9;
        if used > 0 {
            id += 1;
            let pod = Pod::gpus(id, "filler", used);
            let alloc = c.fit(&pod, n).expect("fits an empty node");
            c.bind(&pod, n, alloc).expect("binds");
        }
    }
    c
}

fn decide(c: &mut Criterion) {
    let cluster = fleet(false);
    let mut profile = Profile::builtin("default").expect("built in");
    let mut pod = Pod::gpus(1_000_000, "new", 2);
    pod.speedup = [("A100".to_string(), 0.45), ("L4".to_string(), 0.1)].into();
    let Outcome::Bind { node, .. } = profile.schedule(&pod, &cluster) else { panic!("the pod fits") };
    let mut group = c.benchmark_group("scheduler/10000-nodes");
    group.bench_function("default-profile", |b| b.iter(|| profile.schedule(&pod, &cluster)));
    // FGD weighs against the workload mix it has seen: 1, 2, 4 and 8 GPUs.
    let mut fgd = Profile::builtin("fgd").expect("built in");
    for (i, g) in [1, 1, 2, 2, 2, 4, 8].into_iter().enumerate() {
        fgd.observe(&Pod::gpus(2_000_000 + i as u64, "seen", g));
    }
    group.bench_function("fgd-profile", |b| b.iter(|| fgd.schedule(&pod, &cluster)));
    // The baseline: the same decision with no two nodes alike.
    let apart = fleet(true);
    let mut baseline = Profile::builtin("default").expect("built in");
    let Outcome::Bind { node: same, .. } = baseline.schedule(&pod, &apart) else { panic!("the pod fits") };
    assert_eq!(node, same, "grouping nodes into classes does not change the decision");
    group.sample_size(20);
    group.bench_function("default-profile-node-by-node", |b| b.iter(|| baseline.schedule(&pod, &apart)));
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
