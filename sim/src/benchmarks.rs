//! Reference workloads for measuring Twin: the classic hold model for the
//! bare engine, and a fleet-scale week of inference. Benchmarks and
//! `twin bench` time them; nothing here reads a clock.

use crate::engine::{Context, Model, Simulation};
use crate::rng::{RngStreams, SimRng};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use rand_distr::{Distribution, Exp1};

/// The hold model: every event schedules one more at an exponential delay
/// (ziggurat sampling), so the queue keeps a constant number of pending events.
pub struct HoldModel {
    rng: SimRng,
    mean_delay_ns: f64,
    /// Events handled.
    pub handled: u64,
}

impl Model for HoldModel {
    type Event = u32;

    #[inline]
    fn handle(&mut self, event: u32, ctx: &mut Context<'_, u32>) {
        self.handled += 1;
        let x: f64 = Exp1.sample(&mut self.rng);
        let delay = (x * self.mean_delay_ns) as u64;
        ctx.schedule_in(SimDuration(delay.max(1)), event);
    }
}

/// A hold-model simulation with `pending` events in its queue.
pub fn hold_simulation(pending: usize, seed: u64) -> Simulation<HoldModel> {
    let mut rng = RngStreams::new(seed).stream("hold");
    let mean_delay_ns = 1e6;
    let starts: Vec<u64> = (0..pending).map(|_| (rng.random::<f64>() * mean_delay_ns) as u64).collect();
    let mut sim = Simulation::new(HoldModel { rng, mean_delay_ns, handled: 0 });
    for (i, t) in starts.into_iter().enumerate() {
        sim.schedule_at(SimTime(t), i as u32);
    }
    sim
}

/// The hold model on `std::collections::BinaryHeap` keyed by (time, sequence):
/// the baseline the engine's queue is measured against, with the same delays.
pub struct BinaryHeapHold {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64, u32)>>,
    rng: SimRng,
    mean_delay_ns: f64,
    seq: u64,
    /// Events handled.
    pub handled: u64,
}

impl BinaryHeapHold {
    /// A baseline queue with `pending` events, seeded as [`hold_simulation`] is.
    pub fn new(pending: usize, seed: u64) -> BinaryHeapHold {
        let mut rng = RngStreams::new(seed).stream("hold");
        let mean_delay_ns = 1e6;
        let mut heap = std::collections::BinaryHeap::with_capacity(pending);
        for i in 0..pending {
            let t = (rng.random::<f64>() * mean_delay_ns) as u64;
            heap.push(std::cmp::Reverse((t, i as u64, i as u32)));
        }
        BinaryHeapHold { heap, rng, mean_delay_ns, seq: pending as u64, handled: 0 }
    }

    /// Handles the earliest event: it schedules one more.
    #[inline]
    pub fn step(&mut self) {
        if let Some(std::cmp::Reverse((t, _, e))) = self.heap.pop() {
            self.handled += 1;
            let x: f64 = Exp1.sample(&mut self.rng);
            let delay = ((x * self.mean_delay_ns) as u64).max(1);
            self.heap.push(std::cmp::Reverse((t + delay, self.seq, e)));
            self.seq += 1;
        }
    }
}

/// A week of inference on 1,000 GPUs (512 reserved H100s and 488 on-demand
/// A100s) serving `million_requests` million requests across four services
/// of 250 single-GPU replicas each.
pub fn fleet_week(million_requests: f64) -> String {
    fleet_week_sized(1, million_requests)
}

/// [`fleet_week`] on `scale` times the fleet: `scale` × 1,000 GPUs (every
/// pool's nodes and every service's replicas multiplied), serving
/// `million_requests` million requests in the week.
pub fn fleet_week_sized(scale: u32, million_requests: f64) -> String {
    let scale = scale.max(1);
    let rate = million_requests * 1e6 / (7.0 * 86_400.0);
    let service = |name: &str, model: &str, pool: &str, replicas: u32, share: f64, arrivals: &str| {
        let r = rate * share;
        let arrivals = arrivals
            .replace("RATE", &format!("{r:.6}"))
            .replace("BURST", &format!("{:.6}", r * 3.0))
            .replace("CALM", &format!("{:.6}", r * 0.5));
        format!(
            r#"
[[services]]
name = "{name}"
team = "bench"
model = "{model}"
pools = ["{pool}"]
replicas = {replicas}
max_batch = 64
slo = {{ ttft = "2s", e2e = "60s" }}
arrivals = {arrivals}
prompt_tokens = {{ lognormal = {{ median = 500, sigma = 0.8, max = 8000 }} }}
output_tokens = {{ lognormal = {{ median = 200, sigma = 0.6, max = 2000 }} }}
"#
        )
    };
    let name = if scale == 1 { "fleet-week".to_string() } else { format!("fleet-week-x{scale}") };
    let (h100, a100) = (64 * scale, 61 * scale);
    let mut s = format!(
        r#"format_version = 1
name = "{name}"
description = "A week of inference on {scale},000 GPUs"
horizon = "7d"
sample_interval = "5m"

[[pools]]
name = "h100-reserved"
node_type = "p5.48xlarge"
capacity = "reserved"
nodes = {h100}
price = 35.0

[[pools]]
name = "a100-od"
node_type = "p4de.24xlarge"
capacity = "on-demand"
min_nodes = {a100}
max_nodes = {a100}
"#
    );
    s += &service("chat", "llama-3.1-8b", "h100-reserved", 256 * scale, 0.35, "{ poisson = { rate = RATE } }");
    s += &service(
        "code",
        "llama-3.1-8b",
        "h100-reserved",
        256 * scale,
        0.25,
        "{ mmpp = { rates = [CALM, BURST], mean_durations = [\"50m\", \"10m\"] } }",
    );
    s += &service(
        "summarise",
        "mistral-7b",
        "a100-od",
        244 * scale,
        0.25,
        "{ diurnal = { mean_rate = RATE, amplitude = 0.6, peak = \"14h\" } }",
    );
    s += &service("batch", "llama-3.2-1b", "a100-od", 244 * scale, 0.15, "{ poisson = { rate = RATE } }");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn hold_keeps_its_queue_size() {
        let mut sim = hold_simulation(1_000, 1);
        for _ in 0..10_000 {
            sim.step();
        }
        assert_eq!(sim.pending(), 1_000);
        assert_eq!(sim.model().handled, 10_000);
    }

    #[test]
    fn the_baseline_handles_the_same_number_of_events() {
        let mut b = BinaryHeapHold::new(100, 1);
        for _ in 0..1_000 {
            b.step();
        }
        assert_eq!(b.handled, 1_000);
        assert_eq!(b.heap.len(), 100);
    }

    #[test]
    fn fleet_week_checks_and_has_a_thousand_gpus() {
        let s = Scenario::from_toml(&fleet_week(10.0), "fleet-week").unwrap();
        let gpus: u32 = s.spec.pools.iter().map(|p| p.max_node_count() * 8).sum();
        assert_eq!(gpus, 1_000);
        let replicas: u32 = s.spec.services.iter().map(|s| s.replicas).sum();
        assert_eq!(replicas, 1_000);
    }

    #[test]
    fn a_sized_fleet_week_scales_gpus_and_replicas() {
        let s = Scenario::from_toml(&fleet_week_sized(10, 100.0), "fleet-week-x10").unwrap();
        let gpus: u32 = s.spec.pools.iter().map(|p| p.max_node_count() * 8).sum();
        assert_eq!(gpus, 10_000);
        let replicas: u32 = s.spec.services.iter().map(|s| s.replicas).sum();
        assert_eq!(replicas, 10_000);
        assert_eq!(fleet_week_sized(1, 10.0), fleet_week(10.0));
    }
}
