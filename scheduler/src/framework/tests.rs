//! The scheduling cycle: choices, traces, gangs, preemption; and properties
//! over random clusters.

use super::*;
use crate::node::{Capacity, NodeShape, ShapeId};
use crate::pod::{Gang, Pod};
use crate::profile::{PluginSpec, ProfileSpec};
use proptest::prelude::*;

fn shape(pool: &str, model: &str, gpus: u32, price: f64, capacity: Capacity, hazard: f64) -> NodeShape {
    NodeShape { price_per_gpu_hour: price, capacity, interruption_per_hour: hazard, ..NodeShape::gpu_node(pool, model, gpus) }
}

fn profile(plugins: &[(&str, f64)]) -> Profile {
    Profile::from_spec(&ProfileSpec {
        name: "test".into(),
        plugins: plugins.iter().map(|(n, w)| PluginSpec { name: n.to_string(), weight: *w, max_band: None }).collect(),
        preemption: true,
    })
    .unwrap()
}

fn bind(cluster: &mut Cluster, p: &mut Profile, pod: &Pod) -> NodeIdx {
    match p.schedule(pod, cluster) {
        Outcome::Bind { node, alloc, .. } => {
            cluster.bind(pod, node, alloc).unwrap();
            node
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bin_pack_fills_one_node_and_spread_alternates() {
    let mut c = Cluster::default();
    let s = c.add_shape(NodeShape::gpu_node("p", "H100", 8));
    let a = c.add_node("a", s);
    let b = c.add_node("b", s);
    let mut pack = profile(&[("resource-fit", 0.0), ("bin-pack", 1.0)]);
    let first = bind(&mut c, &mut pack, &Pod::gpus(1, "1", 2));
    let second = bind(&mut c, &mut pack, &Pod::gpus(2, "2", 2));
    assert_eq!(first, second, "bin-pack keeps filling the same node");
    let mut spread = profile(&[("resource-fit", 0.0), ("spread", 1.0)]);
    let third = bind(&mut c, &mut spread, &Pod::gpus(3, "3", 2));
    assert_ne!(third, first, "spread goes to the emptier node");
    assert!([a, b].contains(&third));
}

#[test]
fn cost_aware_prefers_sunk_then_spot_then_on_demand() {
    let mut c = Cluster::default();
    let od = c.add_shape(shape("od", "H100", 8, 6.88, Capacity::OnDemand, 0.0));
    let spot = c.add_shape(shape("spot", "H100", 8, 2.75, Capacity::Spot, 0.0002));
    let reserved = c.add_shape(shape("res", "H100", 1, 3.10, Capacity::Reserved, 0.0));
    c.add_node("od-0", od);
    c.add_node("spot-0", spot);
    c.add_node("res-0", reserved);
    let mut p = Profile::builtin("default").unwrap();
    let n = bind(&mut c, &mut p, &Pod::gpus(1, "a", 1));
    assert_eq!(c.node(n).unwrap().name, "res-0");
    let n = bind(&mut c, &mut p, &Pod::gpus(2, "b", 1));
    assert_eq!(c.node(n).unwrap().name, "spot-0");
    let _ = ShapeId(0);
}

#[test]
fn fragile_work_stays_off_risky_spot() {
    let mut c = Cluster::default();
    let risky = c.add_shape(shape("spot", "H100", 8, 1.0, Capacity::Spot, 0.01));
    let od = c.add_shape(shape("od", "H100", 8, 6.88, Capacity::OnDemand, 0.0));
    c.add_node("spot-0", risky);
    c.add_node("od-0", od);
    let mut p = Profile::builtin("default").unwrap();
    let mut fragile = Pod::gpus(1, "fragile", 8);
    fragile.checkpointed = false;
    let out = p.schedule(&fragile, &c);
    let Outcome::Bind { node, trace, .. } = out else { panic!() };
    assert_eq!(c.node(node).unwrap().name, "od-0");
    assert_eq!(
        trace.rejected,
        vec![("interruption-aware".to_string(), "interruption band too high for work without checkpoints".to_string(), 1)]
    );
    let robust = Pod::gpus(2, "robust", 8);
    let Outcome::Bind { node, .. } = p.schedule(&robust, &c) else { panic!() };
    assert_eq!(c.node(node).unwrap().name, "spot-0");
}

#[test]
fn gavel_puts_work_where_it_runs_fastest() {
    let mut c = Cluster::default();
    let a100 = c.add_shape(NodeShape::gpu_node("a100", "A100", 8));
    let h100 = c.add_shape(NodeShape::gpu_node("h100", "H100", 8));
    c.add_node("a", a100);
    c.add_node("h", h100);
    let mut p = Profile::builtin("gavel").unwrap();
    let mut pod = Pod::gpus(1, "j", 4);
    pod.speedup = [("A100".to_string(), 0.45), ("H100".to_string(), 1.0)].into();
    let Outcome::Bind { node, trace, .. } = p.schedule(&pod, &c) else { panic!() };
    assert_eq!(c.node(node).unwrap().name, "h");
    assert_eq!(trace.top[0].scores.iter().find(|s| s.0 == "heterogeneity-aware").unwrap().1, 100.0);
}

#[test]
fn an_unschedulable_pod_says_which_filter_failed_where() {
    let mut c = Cluster::default();
    let t4 = c.add_shape(NodeShape::gpu_node("t4", "T4", 1));
    let v100 = c.add_shape(NodeShape::gpu_node("v100", "V100M16", 8));
    for i in 0..3 {
        c.add_node(&format!("t4-{i}"), t4);
    }
    c.add_node("v100-0", v100);
    let mut p = Profile::builtin("bin-pack").unwrap();
    let mut pod = Pod::gpus(1, "big", 4);
    pod.gpu_models = vec!["T4".into()];
    let Outcome::Unschedulable { trace } = p.schedule(&pod, &c) else { panic!() };
    assert_eq!(trace.nodes, 4);
    assert_eq!(trace.feasible, 0);
    assert!(trace.rejected.contains(&("resource-fit".into(), "accelerator model not allowed".into(), 1)));
    assert!(trace.rejected.contains(&("resource-fit".into(), "too few accelerators on the node".into(), 3)));
    assert!(trace.summary().contains("0 of 4 nodes feasible"));
}

#[test]
fn preemption_evicts_the_fewest_lowest_priority_pods() {
    let mut c = Cluster::default();
    let s = c.add_shape(NodeShape::gpu_node("p", "H100", 2));
    let a = c.add_node("a", s);
    let b = c.add_node("b", s);
    let mut p = Profile::builtin("bin-pack").unwrap();
    let mk = |id: u64, prio: i32| Pod { priority: prio, ..Pod::gpus(id, &format!("p{id}"), 1) };
    // a holds priorities 1 and 5; b holds 2 and 2.
    for (pod, node) in [(mk(1, 1), a), (mk(2, 5), a), (mk(3, 2), b), (mk(4, 2), b)] {
        let alloc = c.fit(&pod, node).unwrap();
        c.bind(&pod, node, alloc).unwrap();
    }
    let urgent = mk(9, 3);
    let Outcome::Preempt { node, victims, trace } = p.schedule(&urgent, &c) else { panic!() };
    assert_eq!(node, a, "one victim of priority 1 beats one of priority 2");
    assert_eq!(victims, vec![PodId(1)]);
    assert_eq!(trace.victims, vec!["p1".to_string()]);
    // Nothing below priority 1 to evict for a priority-1 pod.
    assert!(matches!(p.schedule(&mk(10, 1), &c), Outcome::Unschedulable { .. }));
}

#[test]
fn a_gang_is_placed_whole_or_not_at_all() {
    let mut c = Cluster::default();
    let s = c.add_shape(NodeShape::gpu_node("p", "H100", 8));
    c.add_node("a", s);
    c.add_node("b", s);
    let mut p = Profile::builtin("bin-pack").unwrap();
    let gang = |n: u32| -> Vec<Pod> {
        (0..n)
            .map(|i| Pod { gang: Some(Gang { name: "g".into(), size: n }), ..Pod::gpus(100 + u64::from(i), &format!("g-{i}"), 8) })
            .collect()
    };
    let GangOutcome::Bind { placements, .. } = p.schedule_gang(&gang(2), &mut c) else { panic!() };
    assert_eq!(placements.len(), 2);
    assert_ne!(placements[0].1, placements[1].1);
    assert_eq!(c.bindings().len(), 0, "scheduling a gang binds nothing by itself");
    let GangOutcome::Wait { trace } = p.schedule_gang(&gang(3), &mut c) else { panic!() };
    assert!(trace.note.contains("member 3 of 3"), "{}", trace.note);
    assert_eq!(c.bindings().len(), 0);
}

#[test]
fn preempting_a_gang_member_takes_the_whole_gang() {
    let mut c = Cluster::default();
    let s = c.add_shape(NodeShape::gpu_node("p", "H100", 8));
    let a = c.add_node("a", s);
    let b = c.add_node("b", s);
    for (i, n) in [a, b].into_iter().enumerate() {
        let pod = Pod { priority: 0, gang: Some(Gang { name: "g".into(), size: 2 }), ..Pod::gpus(i as u64, &format!("g-{i}"), 8) };
        let alloc = c.fit(&pod, n).unwrap();
        c.bind(&pod, n, alloc).unwrap();
    }
    let mut p = Profile::builtin("default").unwrap();
    let Outcome::Preempt { victims, .. } = p.schedule(&Pod { priority: 10, ..Pod::gpus(9, "urgent", 4) }, &c) else { panic!() };
    assert_eq!(victims.len(), 2);
}

proptest! {
    /// Random pods against a random cluster, bound as the profile decides:
    /// no node hands out more than it has, gangs are whole or absent, and a
    /// preemption never evicts a pod of equal or higher priority.
    #[test]
    fn no_profile_over_allocates_or_splits_gangs_or_preempts_upwards(
        profile_name in prop::sample::select(vec!["default", "bin-pack", "spread", "cost-aware", "gavel", "fgd"]),
        nodes in prop::collection::vec((0usize..3, 1u32..9), 1..8),
        pods in prop::collection::vec((0u32..5, 0u16..1000, -2i32..3, 0u32..3), 1..60),
    ) {
        let mut c = Cluster::default();
        let models = ["H100", "A100", "T4"];
        for (i, (m, gpus)) in nodes.iter().enumerate() {
            let s = c.add_shape(shape(&format!("pool-{m}"), models[*m], *gpus, 1.0 + *m as f64, [Capacity::Spot, Capacity::OnDemand, Capacity::Reserved][*m], 0.001 * *m as f64));
            c.add_node(&format!("n{i}"), s);
        }
        let mut p = Profile::builtin(profile_name).unwrap();
        let mut next = 0u64;
        let mut sizes: std::collections::BTreeMap<String, u32> = Default::default();
        for (gpus, share, prio, gang) in pods {
            let members: Vec<Pod> = (0..gang.max(1))
                .map(|k| {
                    next += 1;
                    let mut pod = if gpus > 0 { Pod::gpus(next, &format!("p{next}"), gpus) } else { Pod::share(next, &format!("p{next}"), share.max(1)) };
                    pod.priority = prio;
                    if gang > 1 {
                        pod.gang = Some(Gang { name: format!("g{next}"), size: gang });
                        pod.name = format!("p{next}-{k}");
                    }
                    pod
                })
                .collect();
            if members.len() > 1 {
                let gang_name = format!("g{}", members[0].id.0);
                let members: Vec<Pod> = members.into_iter().map(|mut m| { m.gang = Some(Gang { name: gang_name.clone(), size: gang }); m }).collect();
                sizes.insert(gang_name.clone(), gang);
                if let GangOutcome::Bind { placements, .. } = p.schedule_gang(&members, &mut c) {
                    for (m, (_, node, alloc)) in members.iter().zip(placements) {
                        c.bind(m, node, alloc).unwrap();
                    }
                }
                continue;
            }
            let pod = &members[0];
            p.observe(pod);
            match p.schedule(pod, &c) {
                Outcome::Bind { node, alloc, .. } => c.bind(pod, node, alloc).unwrap(),
                Outcome::Preempt { node, victims, .. } => {
                    for v in &victims {
                        let b = c.binding(*v).unwrap();
                        prop_assert!(b.priority < pod.priority, "evicted priority {} for {}", b.priority, pod.priority);
                    }
                    for v in victims {
                        c.unbind(v);
                    }
                    let alloc = c.fit(pod, node);
                    prop_assert!(alloc.is_some(), "preemption did not make room");
                    c.bind(pod, node, alloc.unwrap()).unwrap();
                }
                Outcome::Unschedulable { .. } => {}
            }
            // Invariants after every decision.
            for (idx, n) in c.nodes() {
                let s = c.shape(n.shape);
                let held: u32 = c.pods_on(idx).iter().map(|p| c.binding(*p).unwrap().alloc.gpu_milli()).sum();
                prop_assert_eq!(held + n.free_milli(), s.gpus * 1000);
                prop_assert!(n.gpu_free.iter().all(|&f| f <= 1000));
            }
            let mut gangs: std::collections::BTreeMap<String, u32> = Default::default();
            for b in c.bindings().values() {
                if let Some(g) = &b.gang {
                    *gangs.entry(g.clone()).or_default() += 1;
                }
            }
            for (g, n) in gangs {
                prop_assert_eq!(n, sizes[&g], "gang {} partly bound", g);
            }
        }
    }
}

#[test]
fn a_profile_cannot_leave_out_the_rules_a_placement_must_keep() {
    // Only bin-pack: resource-fit and node-affinity are still applied.
    let p = profile(&[("bin-pack", 1.0)]);
    let names: Vec<&str> = p.plugins().map(|(n, _)| n).collect();
    assert_eq!(names, ["resource-fit", "node-affinity", "bin-pack"]);
    let mut c = Cluster::default();
    let a = c.add_shape(NodeShape::gpu_node("a", "L4", 4));
    let b = c.add_shape(NodeShape::gpu_node("b", "H100", 8));
    let _on_a = c.add_node("a-0", a);
    let on_b = c.add_node("b-0", b);
    let mut pack = p;
    let mut pod = Pod::gpus(1, "wants-h100", 1);
    pod.selector.push(crate::pod::Selector::In { key: "gpu.type".into(), values: vec!["H100".into()] });
    assert_eq!(bind(&mut c, &mut pack, &pod), on_b, "the node selector holds without node-affinity listed");
    // Too big for any node: refused, not squeezed in.
    assert!(!matches!(pack.schedule(&Pod::gpus(2, "nine", 9), &c), Outcome::Bind { .. }));
    // An option on the wrong plugin is refused.
    let err = Profile::from_spec(&ProfileSpec {
        name: "x".into(),
        plugins: vec![PluginSpec { name: "bin-pack".into(), weight: 1.0, max_band: Some(1) }],
        preemption: true,
    })
    .unwrap_err();
    assert!(err.to_string().contains("takes no `max_band`"), "{err}");
}

#[test]
fn pools_to_grow_are_ranked_on_the_placement_scale() {
    let p = Profile::builtin("default").unwrap();
    let pod = Pod::gpus(1, "a", 1);
    let mut wants_h100 = pod.clone();
    wants_h100.selector.push(crate::pod::Selector::In { key: "gpu.type".into(), values: vec!["H100".into()] });
    let candidates = vec![
        (wants_h100.clone(), shape("od", "H100", 8, 6.88, Capacity::OnDemand, 0.0)),
        (wants_h100.clone(), shape("spot", "H100", 8, 2.75, Capacity::Spot, 0.0002)),
        (wants_h100, shape("l4", "L4", 8, 0.8, Capacity::OnDemand, 0.0)),
    ];
    let s = p.rank_empty_nodes(&candidates);
    assert!(s[2].is_none(), "the selector rules out the L4 pool");
    let (od, spot) = (s[0].unwrap(), s[1].unwrap());
    assert!(spot > od, "spot before on-demand: {spot} vs {od}");
    // Normalised per plugin, a total is at most 100 × the sum of weights.
    let most: f64 = p.plugins().map(|(_, w)| 100.0 * w).sum();
    assert!(spot <= most + 1e-9 && od >= 0.0);
}
