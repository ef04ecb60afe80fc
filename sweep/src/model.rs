//! The sweep model: one inference service of a scenario on a spot pool with
//! on-demand fallback, stepped at a fixed interval, one replica (a possible
//! history) at a time. This file is the reference: `kernel.wgsl` is the same
//! code line for line, and the CPU backend runs this function.
//!
//! What it keeps from the event model:
//! - arrivals: the scenario's rate (Poisson, the 2-state MMPP's calm and
//!   burst states as a per-step Markov chain, the diurnal cosine), counts per
//!   step drawn as Poisson (exact by inversion below 30 a step, normal above);
//! - replicas: a concurrency-target autoscaler by Little's law (rate × mean
//!   E2E plus the backlog, over the target), between min and max, or a
//!   fixed count; `spot_share` of them on spot, the rest and any spot
//!   shortfall on on-demand; replicas packed onto nodes;
//! - nodes: provisioning with the pool's mean delay (geometric), spot
//!   interruptions per node (the pool's hazard), stock-outs (a two-state
//!   chain with the pool's mean durations), nodes released when not needed;
//! - the spot price: the same mean-reverting process with jumps, per step;
//! - serving: a replica serves `mu` requests per second at full batch (from
//!   the roofline step model); a backlog carries over; requests older than
//!   the queue timeout are dropped;
//! - SLO: a request meets it when its queueing delay is within the TTFT
//!   budget (the SLO less the prefill time): the fluid queue, taken as
//!   moving linearly across the step, must be short enough for the replicas
//!   to reach the request within the budget (so the first seconds of an
//!   overload still meet it), and on top of that, while the replicas keep
//!   up, the wait of an M/M/c queue (c = replicas × batch slots, Sakasegawa's
//!   waiting probability) must fit what is left of the budget;
//! - cost: every node from launch, at the step's price, per node-hour.
//!
//! What it drops: individual requests and tokens (E2E misses from long
//! outputs are not counted), per-node minimum charges and per-second
//! rounding, scale-down grace periods, the notice before a reclaim, retries
//! of interrupted requests, and every other service and pool of the scenario.

use bytemuck::{Pod, Zeroable};

/// Everything one grid point's replicas share, laid out as the shader reads
/// it (42 four-byte fields, 168 bytes). Chances whose zero means "at once"
/// (`p_spot_pending`, `p_cold`, `p_keep`, `p_hold`) are chances of waiting.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PointParams {
    /// Steps to run.
    pub steps: u32,
    /// Step length, seconds.
    pub dt_s: f32,
    /// Request rate in the calm state, per second.
    pub rate_calm: f32,
    /// Request rate in the burst state, per second.
    pub rate_burst: f32,
    /// Chance per step of going from calm to burst.
    pub p_to_burst: f32,
    /// Chance per step of going from burst to calm.
    pub p_to_calm: f32,
    /// Relative amplitude of the daily cycle (0: none).
    pub diurnal_amp: f32,
    /// Time of day of the peak, seconds.
    pub diurnal_peak_s: f32,
    /// Requests per second one replica serves at full batch.
    pub mu: f32,
    /// Mean end-to-end time of a request, seconds (for the autoscaler).
    pub e2e_s: f32,
    /// Queueing delay a request may have and still meet its TTFT, seconds.
    pub ttft_budget_s: f32,
    /// Queue timeout, seconds.
    pub timeout_s: f32,
    /// Fewest replicas (the fixed count when `target_concurrency` is 0).
    pub replicas_min: f32,
    /// Most replicas.
    pub replicas_max: f32,
    /// In-flight requests per replica the autoscaler aims at (0: fixed count).
    pub target_concurrency: f32,
    /// Share of replicas asked for on spot.
    pub spot_share: f32,
    /// Replicas that fit on one node.
    pub replicas_per_node: f32,
    /// Mean spot price per node-hour.
    pub spot_mean: f32,
    /// Share of the gap to the mean closed per step.
    pub spot_revert: f32,
    /// Standard deviation of the price's step, per node-hour.
    pub spot_vol: f32,
    /// Lowest spot price.
    pub spot_floor: f32,
    /// Highest spot price.
    pub spot_cap: f32,
    /// Chance per step of a price jump.
    pub jump_p: f32,
    /// Mean relative size of a jump.
    pub jump_size: f32,
    /// On-demand price per node-hour.
    pub od_price: f32,
    /// List price per node-hour (the counterfactual for savings).
    pub list_price: f32,
    /// Chance per step that a ready spot node is reclaimed.
    pub p_interrupt: f32,
    /// Chance per step that a provisioning node becomes ready.
    pub p_ready: f32,
    /// Chance per step that the spot pool runs out of stock.
    pub p_stockout: f32,
    /// Chance per step that a stock-out ends.
    pub p_restock: f32,
    /// Most spot nodes.
    pub spot_max_nodes: f32,
    /// Batch slots per replica.
    pub slots: f32,
    /// Random seed of the point.
    pub seed: u32,
    /// Most on-demand nodes.
    pub od_max_nodes: f32,
    /// Chance per step that a provisioning spot node is still not ready
    /// (`p_ready` is the on-demand pool's chance of becoming ready).
    pub p_spot_pending: f32,
    /// Chance per step that a starting replica is still loading its model.
    pub p_cold: f32,
    /// Chance per step that a node no longer needed is kept (the scale-down delay).
    pub p_keep: f32,
    /// Chance per look that the autoscaler holds a higher count instead of scaling down (its window).
    pub p_hold: f32,
    /// Mean end-to-end time at full batch, seconds.
    pub e2e_full_s: f32,
    /// The autoscaler looks every this many steps (at least 1).
    pub scale_every: f32,
    /// Nodes of a committed pool (reserved or on-prem, or an on-demand
    /// pool's minimum): always up, always billed at `committed_price`, and
    /// where replicas not on spot go first; the on-demand pool takes the rest.
    pub committed_nodes: f32,
    /// Price of a committed node per hour.
    pub committed_price: f32,
}

// The shader's `PointParams`: 42 four-byte scalars, each at 4 × its index.
crate::layout::wgsl_layout!(PointParams, size 168 {
    steps: 0, dt_s: 4, rate_calm: 8, rate_burst: 12, p_to_burst: 16, p_to_calm: 20, diurnal_amp: 24,
    diurnal_peak_s: 28, mu: 32, e2e_s: 36, ttft_budget_s: 40, timeout_s: 44, replicas_min: 48,
    replicas_max: 52, target_concurrency: 56, spot_share: 60, replicas_per_node: 64, spot_mean: 68,
    spot_revert: 72, spot_vol: 76, spot_floor: 80, spot_cap: 84, jump_p: 88, jump_size: 92,
    od_price: 96, list_price: 100, p_interrupt: 104, p_ready: 108, p_stockout: 112, p_restock: 116,
    spot_max_nodes: 120, slots: 124, seed: 128, od_max_nodes: 132, p_spot_pending: 136, p_cold: 140,
    p_keep: 144, p_hold: 148, e2e_full_s: 152, scale_every: 156, committed_nodes: 160,
    committed_price: 164,
});

/// What one replica's history came to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Outcome {
    /// Cost of every node, at the prices paid.
    pub cost: f32,
    /// The same node time at the list price.
    pub list_cost: f32,
    /// Requests that arrived.
    pub arrived: f32,
    /// Requests that met the SLO.
    pub met: f32,
    /// Requests dropped after the queue timeout.
    pub dropped: f32,
    /// Spot nodes reclaimed.
    pub interruptions: f32,
    /// Spot node-hours.
    pub spot_node_hours: f32,
    /// On-demand node-hours.
    pub od_node_hours: f32,
}

// The shader's `Outcome`: 8 `f32`s.
crate::layout::wgsl_layout!(Outcome, size 32 {
    cost: 0, list_cost: 4, arrived: 8, met: 12, dropped: 16, interruptions: 20, spot_node_hours: 24,
    od_node_hours: 28,
});

impl Outcome {
    /// Field by field sum.
    #[inline(always)]
    pub fn plus(&self, b: &Outcome) -> Outcome {
        Outcome {
            cost: self.cost + b.cost,
            list_cost: self.list_cost + b.list_cost,
            arrived: self.arrived + b.arrived,
            met: self.met + b.met,
            dropped: self.dropped + b.dropped,
            interruptions: self.interruptions + b.interruptions,
            spot_node_hours: self.spot_node_hours + b.spot_node_hours,
            od_node_hours: self.od_node_hours + b.od_node_hours,
        }
    }

    /// Share of arrived requests that met the SLO (1 with no arrivals).
    pub fn attainment(&self) -> f32 {
        if self.arrived > 0.0 { self.met / self.arrived } else { 1.0 }
    }
}

/// Outputs per replica, in `f32`s.
pub const OUTCOME_FIELDS: usize = 8;

/// Steps summed in a block; blocks are summed in groups of `BLOCK` before
/// they reach the replica's totals. A year of 10-second steps summed one by
/// one in f32 can drift by percents; in two levels of blocks, by about 1e-5.
pub const BLOCK: u32 = 256;

/// PCG hash (O'Neill), as in the shader: the next state and a random word.
#[inline(always)]
pub fn pcg(state: &mut u32) -> u32 {
    *state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let s = *state;
    let word = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// A uniform in [0, 1) with 24 random bits.
#[inline(always)]
pub fn uniform(state: &mut u32) -> f32 {
    (pcg(state) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A uniform in (0, 1].
#[inline(always)]
fn uniform_open(state: &mut u32) -> f32 {
    ((pcg(state) >> 8) as f32 + 1.0) * (1.0 / 16_777_216.0)
}

/// A standard normal (Box-Muller, one of the pair).
#[inline(always)]
pub fn normal(state: &mut u32) -> f32 {
    let u1 = uniform_open(state);
    let u2 = uniform(state);
    (-2.0 * u1.ln()).sqrt() * (6.283_185_5 * u2).cos()
}

/// A Poisson count with mean `m`: inversion below 30, rounded normal above.
#[inline(always)]
pub fn poisson(state: &mut u32, m: f32) -> f32 {
    if m <= 0.0 {
        return 0.0;
    }
    if m < 30.0 {
        let limit = (-m).exp();
        let mut p = uniform_open(state);
        let mut k = 0.0f32;
        while p > limit && k < 200.0 {
            p *= uniform_open(state);
            k += 1.0;
        }
        return k;
    }
    (m + m.sqrt() * normal(state)).round().max(0.0)
}

/// Of `n` items, how many pass a chance `p` each (n at most a few hundred).
#[inline(always)]
fn binomial(state: &mut u32, n: f32, p: f32) -> f32 {
    let mut k = 0.0f32;
    let mut i = 0.0f32;
    while i < n {
        if uniform(state) < p {
            k += 1.0;
        }
        i += 1.0;
    }
    k
}

/// The random stream of replica `r` of a point seeded `seed`.
#[inline(always)]
pub fn stream(seed: u32, r: u32) -> u32 {
    let mut s = seed ^ r.wrapping_mul(0x9E37_79B9);
    pcg(&mut s);
    s ^ r
}

/// Runs replica `r` of a point to the end.
pub fn run_replica(p: &PointParams, r: u32) -> Outcome {
    let mut rng = stream(p.seed, r);
    let mut o = Outcome::default();
    // This block's sums and this group of blocks' (see `BLOCK`).
    let (mut b, mut g) = (Outcome::default(), Outcome::default());
    let dt_h = p.dt_s / 3_600.0;
    let mut burst = 0u32;
    let mut price = p.spot_mean;
    let mut stocked_out = 0u32;
    // The run starts with the fewest replicas placed and ready, as the event model does.
    let first_spot = (p.replicas_min * p.spot_share).round();
    let mut spot_up = (first_spot / p.replicas_per_node).ceil().min(p.spot_max_nodes);
    let committed_reps = p.committed_nodes * p.replicas_per_node;
    let mut od_up = ((p.replicas_min - first_spot.min(spot_up * p.replicas_per_node) - committed_reps).max(0.0) / p.replicas_per_node)
        .ceil()
        .min(p.od_max_nodes);
    let (mut spot_pending, mut od_pending) = (0.0f32, 0.0f32);
    // Spot replicas held last step, and the ready spot nodes that hold any.
    let mut spot_prev = first_spot.min(spot_up * p.replicas_per_node);
    let mut occupied = spot_up;
    let mut reps_ready = p.replicas_min;
    let mut want_prev = p.replicas_min;
    let mut queue = 0.0f32;
    let mut observed = p.rate_calm * p.e2e_s;
    let mut step = 0u32;
    while step < p.steps {
        let t = step as f32 * p.dt_s;
        // Arrivals.
        if burst == 0 {
            if uniform(&mut rng) < p.p_to_burst {
                burst = 1;
            }
        } else if uniform(&mut rng) < p.p_to_calm {
            burst = 0;
        }
        let day = (t - p.diurnal_peak_s) / 86_400.0;
        let base = if burst == 1 { p.rate_burst } else { p.rate_calm };
        let rate = base * (1.0 + p.diurnal_amp * (6.283_185_5 * (day - day.floor())).cos()).max(0.0);
        let arrivals = poisson(&mut rng, rate * p.dt_s);
        // Replicas wanted: up at once, down unless the window holds the higher count.
        // The autoscaler sees what the last step left: requests in flight and queued.
        let mut want = p.replicas_min;
        if p.target_concurrency > 0.0 {
            want = (observed / p.target_concurrency).ceil().max(p.replicas_min).min(p.replicas_max);
        }
        let hold = uniform(&mut rng) < p.p_hold;
        let looks = (step as f32 % p.scale_every.max(1.0)) == 0.0;
        if (want < want_prev && hold) || !looks {
            want = want_prev;
        }
        want_prev = want;
        let spot_reps = (want * p.spot_share).round();
        // Scaling down takes spot replicas off nodes at random, so a node is
        // freed only when all of its replicas go: one left keeps it.
        let shed = (spot_prev - spot_reps).max(0.0);
        let p_empties = if shed > 0.0 { (shed / spot_prev).powf(spot_prev / occupied.max(1.0)) } else { 0.0 };
        let emptied = binomial(&mut rng, if shed > 0.0 { occupied } else { 0.0 }, p_empties);
        occupied = (occupied - emptied).max((spot_reps / p.replicas_per_node).ceil()).min(spot_reps);
        let spot_want = (spot_reps / p.replicas_per_node).ceil().max(occupied).min(p.spot_max_nodes);
        // The spot market.
        let jump = if uniform(&mut rng) < p.jump_p { p.spot_mean * p.jump_size * -uniform_open(&mut rng).ln() } else { 0.0 };
        price = (price + p.spot_revert * (p.spot_mean - price) + p.spot_vol * normal(&mut rng) + jump).max(p.spot_floor).min(p.spot_cap);
        if stocked_out == 0 {
            if uniform(&mut rng) < p.p_stockout {
                stocked_out = 1;
            }
        } else if uniform(&mut rng) < p.p_restock {
            stocked_out = 0;
        }
        // Reclaims, then nodes coming up.
        let lost = binomial(&mut rng, spot_up, p.p_interrupt);
        spot_up -= lost;
        occupied = (occupied - lost).max(0.0);
        b.interruptions += lost;
        let spot_ready = spot_pending - binomial(&mut rng, spot_pending, p.p_spot_pending);
        spot_pending -= spot_ready;
        spot_up += spot_ready;
        let od_ready = binomial(&mut rng, od_pending, p.p_ready);
        od_pending -= od_ready;
        od_up += od_ready;
        // Spot: launch what is missing (unless out of stock); a node no
        // longer needed goes after the scale-down delay.
        if spot_up + spot_pending < spot_want {
            if stocked_out == 0 {
                spot_pending = spot_want - spot_up;
            }
        } else {
            spot_pending = (spot_want - spot_up).max(0.0);
            let surplus = (spot_up - spot_want).max(0.0);
            spot_up -= surplus - binomial(&mut rng, surplus, p.p_keep);
        }
        // On-demand takes every replica spot cannot hold now.
        let spot_held = spot_reps.min(spot_up * p.replicas_per_node);
        occupied = occupied.max((spot_held / p.replicas_per_node).ceil()).min(spot_up);
        spot_prev = spot_held;
        // The rest go to committed nodes first, then on-demand.
        let od_reps = want - spot_held;
        let od_want = ((od_reps - committed_reps).max(0.0) / p.replicas_per_node).ceil().min(p.od_max_nodes);
        if od_up + od_pending < od_want {
            od_pending = od_want - od_up;
        } else {
            od_pending = (od_want - od_up).max(0.0);
            let surplus = (od_up - od_want).max(0.0);
            od_up -= surplus - binomial(&mut rng, surplus, p.p_keep);
        }
        // Replicas on ready nodes serve once their model is loaded; lost ones start again.
        let placed = spot_held + od_reps.min(committed_reps + od_up * p.replicas_per_node);
        reps_ready = reps_ready.min(placed);
        let starting = placed - reps_ready;
        reps_ready += starting - binomial(&mut rng, starting, p.p_cold);
        let ready = reps_ready;
        // Serving: the fluid queue runs from `q0` to `q1` across the step.
        let service = ready * p.mu;
        let q0 = queue;
        let backlog = queue + arrivals;
        let served = backlog.min(service * p.dt_s);
        let q1 = backlog - served;
        let keep = p.timeout_s * service.max(rate);
        let dropped = (q1 - keep).max(0.0);
        queue = q1 - dropped;
        // SLO: a request meets its TTFT when the queue ahead of it is less
        // than the replicas serve within the budget: the share of the step
        // the queue spends below that, times the chance that the M/M/c wait
        // (while the replicas keep up) fits what the queue leaves of the budget.
        let limit = service * p.ttft_budget_s;
        let (lo, hi) = (q0.min(q1), q0.max(q1));
        let below = if hi <= limit {
            1.0
        } else if lo >= limit {
            0.0
        } else {
            (limit - lo) / (hi - lo)
        };
        let mut ok = 0.0f32;
        if below > 0.0 && service > 0.0 {
            let waited = 0.5 * (lo + hi.min(limit)) / service;
            let mut within = 1.0f32;
            if rate < service {
                let p_wait = (rate / service).powf((2.0 * (ready * p.slots + 1.0)).sqrt());
                within = 1.0 - p_wait * (-(service - rate) * (p.ttft_budget_s - waited)).exp();
            }
            ok = below * within;
        }
        // In flight: requests take longer as replicas fill, up to every batch slot.
        let load = if service > 0.0 { (rate / service).min(1.0) } else { 1.0 };
        observed = (rate * (p.e2e_s + (p.e2e_full_s - p.e2e_s).max(0.0) * load)).min(ready * p.slots) + queue;
        b.arrived += arrivals;
        b.met += served * ok;
        b.dropped += dropped;
        // Billing: nodes from launch.
        let spot_nodes = spot_up + spot_pending;
        let od_nodes = od_up + od_pending;
        b.cost += (spot_nodes * price + od_nodes * p.od_price + p.committed_nodes * p.committed_price) * dt_h;
        b.list_cost += (spot_nodes + od_nodes + p.committed_nodes) * p.list_price * dt_h;
        b.spot_node_hours += spot_nodes * dt_h;
        b.od_node_hours += (od_nodes + p.committed_nodes) * dt_h;
        step += 1;
        let end = step == p.steps;
        if step.is_multiple_of(BLOCK) || end {
            g = g.plus(&b);
            b = Outcome::default();
        }
        if step.is_multiple_of(BLOCK * BLOCK) || end {
            o = o.plus(&g);
            g = Outcome::default();
        }
    }
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A point the backends' tests share: autoscaled, half on spot, 300 steps.
    pub(crate) fn autoscaled() -> PointParams {
        PointParams {
            steps: 300,
            dt_s: 60.0,
            rate_calm: 5.0,
            rate_burst: 15.0,
            p_to_burst: 0.05,
            p_to_calm: 0.2,
            mu: 8.0,
            e2e_s: 2.0,
            ttft_budget_s: 1.5,
            timeout_s: 60.0,
            replicas_min: 1.0,
            replicas_max: 8.0,
            target_concurrency: 8.0,
            spot_share: 0.5,
            replicas_per_node: 8.0,
            spot_mean: 20.0,
            spot_revert: 0.1,
            spot_vol: 1.0,
            spot_floor: 2.0,
            spot_cap: 55.0,
            od_price: 55.0,
            list_price: 55.0,
            p_interrupt: 0.01,
            p_ready: 0.3,
            spot_max_nodes: 4.0,
            od_max_nodes: 4.0,
            slots: 64.0,
            seed: 3,
            ..Default::default()
        }
    }

    /// A fixed-size on-demand service with ample capacity.
    pub(crate) fn calm() -> PointParams {
        PointParams {
            steps: 24 * 60,
            dt_s: 60.0,
            rate_calm: 10.0,
            rate_burst: 10.0,
            mu: 20.0,
            e2e_s: 2.5,
            ttft_budget_s: 2.0,
            timeout_s: 60.0,
            replicas_min: 2.0,
            replicas_max: 2.0,
            replicas_per_node: 8.0,
            spot_mean: 20.0,
            spot_floor: 2.0,
            spot_cap: 55.0,
            od_price: 55.0,
            list_price: 55.0,
            p_ready: 1.0,
            spot_max_nodes: 8.0,
            od_max_nodes: 8.0,
            slots: 64.0,
            seed: 7,
            ..Default::default()
        }
    }

    #[test]
    fn an_ample_on_demand_service_costs_one_node_and_meets_its_slo() {
        let o = run_replica(&calm(), 0);
        // One on-demand node for the day (it is launched at the first step and ready at once).
        assert!((o.cost - 55.0 * 24.0).abs() < 0.01, "{o:?}");
        assert!((o.arrived - 10.0 * 86_400.0).abs() < 5.0 * (10.0f32 * 86_400.0).sqrt(), "{o:?}");
        assert!(o.attainment() > 0.999, "{o:?}");
        assert_eq!(o.dropped, 0.0);
    }

    #[test]
    fn committed_nodes_come_first_and_are_always_billed() {
        let mut p = calm();
        p.committed_nodes = 1.0;
        p.committed_price = 20.0;
        // Two replicas fit the committed node: no on-demand node, the committed one billed all day.
        let o = run_replica(&p, 0);
        assert!((o.cost - 20.0 * 24.0).abs() < 0.01 && (o.od_node_hours - 24.0).abs() < 1e-3, "{o:?}");
        // Twelve do not: the overflow takes one on-demand node.
        p.replicas_min = 12.0;
        p.replicas_max = 12.0;
        let o = run_replica(&p, 0);
        assert!((o.cost - (20.0 + 55.0) * 24.0).abs() < 0.05, "{o:?}");
        // Three committed nodes hold them all, billed whether used or not.
        p.committed_nodes = 3.0;
        let o = run_replica(&p, 0);
        assert!((o.cost - 3.0 * 20.0 * 24.0).abs() < 0.05 && (o.list_cost - 3.0 * 55.0 * 24.0).abs() < 0.05, "{o:?}");
    }

    #[test]
    fn a_year_of_short_steps_keeps_its_sums() {
        let mut p = calm();
        p.steps = 365 * 24 * 360; // 10-second steps
        p.dt_s = 10.0;
        let o = run_replica(&p, 0);
        // One on-demand node all year, summed in blocks: within 1e-5 (one f32 sum drifts by about 1e-1 here).
        let want = 55.0 * 24.0 * 365.0;
        assert!((f64::from(o.cost) - want).abs() < 1e-5 * want, "{} against {want}", o.cost);
    }

    #[test]
    fn too_little_capacity_drops_and_misses() {
        let mut p = calm();
        p.mu = 4.0;
        let o = run_replica(&p, 0);
        assert!(o.dropped > 0.1 * o.arrived, "{o:?}");
        assert!(o.attainment() < 0.5, "{o:?}");
    }

    #[test]
    fn all_spot_with_interruptions_falls_back_and_saves() {
        let mut p = calm();
        p.spot_share = 1.0;
        p.p_interrupt = 0.02;
        p.p_ready = 0.2;
        let o = run_replica(&p, 3);
        assert!(o.interruptions >= 1.0, "{o:?}");
        assert!(o.od_node_hours > 0.0 && o.spot_node_hours > 20.0, "{o:?}");
        assert!(o.cost < o.list_cost, "{o:?}");
    }

    #[test]
    fn the_same_replica_is_the_same_history() {
        let p = calm();
        assert_eq!(run_replica(&p, 11), run_replica(&p, 11));
        assert_ne!(run_replica(&p, 11), run_replica(&p, 12));
    }

    #[test]
    fn poisson_counts_have_their_mean() {
        let mut s = stream(1, 2);
        for m in [0.5f32, 5.0, 29.0, 31.0, 400.0] {
            let n = 20_000;
            let mean = (0..n).map(|_| poisson(&mut s, m)).sum::<f32>() / n as f32;
            assert!((mean - m).abs() < 4.0 * (m / n as f32).sqrt() + 0.01, "{m}: {mean}");
        }
    }
}
