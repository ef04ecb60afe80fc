//! The FGD paper's experiment: fill a cluster with a trace's pods until the
//! arrived GPU demand reaches a multiple of its capacity, and watch how much
//! is allocated and how much of what is free is fragmented.
//!
//! Pods arrive one at a time and never leave. The trace's own pods come
//! first, in order of creation; past them, pods are drawn from the trace at
//! random with replacement (the paper's workload inflation), with a SplitMix64
//! stream so every profile sees the same arrivals. A pod that does not fit
//! when it arrives is counted unscheduled and dropped. Fragmentation is
//! measured with the trace's whole mix of pod shapes, the same for every
//! profile, whatever the profile itself knows.

use crate::cluster::Cluster;
use crate::framework::Outcome;
use crate::node::NodeShape;
use crate::openb::TraceNode;
use crate::plugins::{FragmentationAware, node_fragmentation};
use crate::pod::{Pod, PodId};
use crate::profile::Profile;
use serde::Serialize;
use std::collections::BTreeMap;

/// How far to fill and how often to look.
#[derive(Clone, Copy, Debug)]
pub struct FillOptions {
    /// Stop when arrived GPU demand reaches this share of capacity (FGD: 1.3).
    pub fill_to: f64,
    /// Record a point each time arrived demand grows by this share of capacity.
    pub report_every: f64,
    /// Seed of the sampling stream past the trace's own pods.
    pub seed: u64,
}

impl Default for FillOptions {
    fn default() -> Self {
        FillOptions { fill_to: 1.3, report_every: 0.05, seed: 1 }
    }
}

/// The cluster after some arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FillPoint {
    /// Pods arrived so far.
    pub pods: u64,
    /// Arrived GPU demand as a share of capacity (the x axis of FGD's figures).
    pub arrived: f64,
    /// Allocated GPU capacity as a share of capacity.
    pub allocated: f64,
    /// Expected fragmented GPU capacity, as a share of capacity.
    pub fragmented: f64,
    /// Fragmented capacity as a share of what is free.
    pub fragmented_of_free: f64,
    /// Pods that found no node when they arrived.
    pub unscheduled: u64,
    /// GPU demand of those pods, as a share of capacity.
    pub unscheduled_demand: f64,
}

/// One profile's run through the fill.
#[derive(Clone, Debug, Serialize)]
pub struct FillReport {
    /// The profile.
    pub profile: String,
    /// Points at every `report_every` of arrived demand, and the last one.
    pub points: Vec<FillPoint>,
}

impl FillReport {
    /// The first point at or past an arrived share (the last point if none is).
    pub fn at(&self, arrived: f64) -> Option<&FillPoint> {
        self.points.iter().find(|p| p.arrived >= arrived - 1e-9).or(self.points.last())
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a small, named, well-mixed stream.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2^-40 for traces of any real size).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// The arrivals of a fill: the trace's pods, then draws from them, until
/// their GPU demand reaches `fill_to` of `capacity_milli`.
fn arrivals(pods: &[Pod], capacity_milli: u64, opts: FillOptions) -> impl Iterator<Item = Pod> + '_ {
    let target = (opts.fill_to * capacity_milli as f64).ceil() as u64;
    let mut rng = SplitMix64(opts.seed);
    let mut demand = 0u64;
    let mut n = 0usize;
    let any_gpu = pods.iter().any(|p| p.gpu_milli() > 0);
    std::iter::from_fn(move || {
        if demand >= target || pods.is_empty() || !any_gpu {
            return None;
        }
        let src = if n < pods.len() { &pods[n] } else { &pods[rng.below(pods.len())] };
        let mut pod = src.clone();
        pod.id = PodId(n as u64);
        pod.seq = n as u64;
        if n >= pods.len() {
            pod.name = format!("{}#{n}", src.name);
        }
        n += 1;
        demand += u64::from(pod.gpu_milli());
        Some(pod)
    })
}

/// Builds the cluster of a trace's nodes, one shape per distinct node shape.
pub fn cluster_of(nodes: &[TraceNode]) -> Cluster {
    let mut cluster = Cluster::default();
    let mut shapes: BTreeMap<String, crate::node::ShapeId> = BTreeMap::new();
    for n in nodes {
        let key = shape_key(&n.shape);
        let id = match shapes.get(&key) {
            Some(id) => *id,
            None => {
                let id = cluster.add_shape(n.shape.clone());
                shapes.insert(key, id);
                id
            }
        };
        cluster.add_node(&n.name, id);
    }
    cluster
}

fn shape_key(s: &NodeShape) -> String {
    format!("{}/{}/{}/{}/{}", s.pool, s.gpu_model, s.gpus, s.cpu_milli, s.memory_mib)
}

/// Fills a cluster of `nodes` with `pods` under `profile`.
pub fn fill(nodes: &[TraceNode], pods: &[Pod], profile: &mut Profile, opts: &FillOptions) -> FillReport {
    let mut cluster = cluster_of(nodes);
    let capacity = cluster.gpu_milli_totals().0;
    let measure = FragmentationAware::with_mix(pods);
    let mix = measure.mix();
    let share = |milli: u64| if capacity == 0 { 0.0 } else { milli as f64 / capacity as f64 };
    let mut points = Vec::new();
    let (mut arrived_milli, mut unscheduled, mut unscheduled_milli, mut count) = (0u64, 0u64, 0u64, 0u64);
    let mut next_mark = opts.report_every;
    let point = |cluster: &Cluster, count, arrived_milli, unscheduled, unscheduled_milli| {
        let (_, allocated) = cluster.gpu_milli_totals();
        let fragmented: f64 = cluster.nodes().map(|(_, n)| node_fragmentation(n, mix)).sum();
        let free = (capacity - allocated) as f64;
        FillPoint {
            pods: count,
            arrived: share(arrived_milli),
            allocated: share(allocated),
            fragmented: if capacity == 0 { 0.0 } else { fragmented / capacity as f64 },
            fragmented_of_free: if free > 0.0 { fragmented / free } else { 0.0 },
            unscheduled,
            unscheduled_demand: share(unscheduled_milli),
        }
    };
    for pod in arrivals(pods, capacity, *opts) {
        profile.observe(&pod);
        count += 1;
        arrived_milli += u64::from(pod.gpu_milli());
        let bound = match profile.schedule(&pod, &cluster) {
            Outcome::Bind { node, alloc, .. } => cluster.bind(&pod, node, alloc).is_ok(),
            // Every pod has the same priority: nothing to preempt.
            Outcome::Preempt { .. } | Outcome::Unschedulable { .. } => false,
        };
        if !bound {
            unscheduled += 1;
            unscheduled_milli += u64::from(pod.gpu_milli());
        }
        while opts.report_every > 0.0 && share(arrived_milli) >= next_mark - 1e-12 {
            points.push(point(&cluster, count, arrived_milli, unscheduled, unscheduled_milli));
            next_mark += opts.report_every;
        }
    }
    if points.last().is_none_or(|p| p.pods != count) {
        points.push(point(&cluster, count, arrived_milli, unscheduled, unscheduled_milli));
    }
    FillReport { profile: profile.name.clone(), points }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openb::{parse_nodes, parse_pods};

    fn small() -> (Vec<TraceNode>, Vec<Pod>) {
        let mut nodes = "sn,cpu_milli,memory_mib,gpu,model\n".to_string();
        for i in 0..6 {
            nodes += &format!("n{i},64000,262144,4,T4\n");
        }
        let mut pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n".to_string();
        for i in 0..12 {
            pods += &format!("s{i},1000,1024,1,{}\n", [300, 500, 700][i % 3]);
            pods += &format!("w{i},1000,1024,1,1000\n");
        }
        pods += "big,1000,1024,2,1000\n";
        (parse_nodes("n", &nodes).unwrap(), parse_pods("p", &pods).unwrap())
    }

    #[test]
    fn fills_to_the_target_and_accounts_for_every_pod() {
        let (nodes, pods) = small();
        for name in ["default", "bin-pack", "spread", "fgd"] {
            let mut profile = Profile::builtin(name).unwrap();
            let r = fill(&nodes, &pods, &mut profile, &FillOptions::default());
            let last = r.points.last().unwrap();
            assert!(last.arrived >= 1.3 && last.arrived < 1.3 + 2.0 / 24.0, "{name}: {last:?}");
            // Allocated plus unscheduled demand is all that arrived.
            assert!((last.allocated + last.unscheduled_demand - last.arrived).abs() < 1e-9, "{name}: {last:?}");
            assert!(last.allocated <= 1.0 && last.fragmented <= 1.0 - last.allocated + 1e-9, "{name}: {last:?}");
            assert!(last.unscheduled > 0, "past 100% some pods cannot fit");
            assert!(r.points.windows(2).all(|w| w[0].arrived <= w[1].arrived && w[0].allocated <= w[1].allocated));
            // Same options, same result.
            let again = fill(&nodes, &pods, &mut Profile::builtin(name).unwrap(), &FillOptions::default());
            assert_eq!(r.points, again.points);
        }
    }

    #[test]
    fn fgd_leaves_less_fragmented_than_spread() {
        let (nodes, pods) = small();
        let at = |name| {
            let r = fill(&nodes, &pods, &mut Profile::builtin(name).unwrap(), &FillOptions::default());
            *r.at(0.9).unwrap()
        };
        let (fgd, spread) = (at("fgd"), at("spread"));
        assert!(fgd.fragmented < spread.fragmented, "fgd {fgd:?} spread {spread:?}");
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Reference values for seed 0 from the published SplitMix64 code.
        let mut r = SplitMix64(0);
        assert_eq!(r.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next(), 0x6e78_9e6a_a1b9_65f4);
    }
}
