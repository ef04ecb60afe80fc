//! The CPU backend's kernel: [`crate::model::run_replica`] for [`W`]
//! replicas of one point at once, each lane a replica with its own random
//! stream, laid out so that every step compiles to SIMD instructions.
//!
//! Each lane draws the same numbers in the same order as the reference: a
//! draw the reference makes only on one side of a branch is made here under
//! a mask, and loops with a data-dependent count (Poisson inversion, the
//! binomials) run until the last lane is done, the others masked. The
//! results differ from the reference only where [`crate::lanes`]'s
//! polynomials round differently from libm.

use crate::lanes::{self, ALL, F, M, W, any, round_away};
use crate::model::{BLOCK, Outcome, PointParams, stream};

#[inline(always)]
fn pcg_next(s: u32) -> u32 {
    s.wrapping_mul(747_796_405).wrapping_add(2_891_336_453)
}

#[inline(always)]
fn pcg_word(s: u32) -> u32 {
    let word = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The lanes' random streams.
struct Rng([u32; W]);

impl Rng {
    /// A uniform in [0, 1) per lane, the stream advancing only where `on`.
    #[inline(always)]
    fn uniform(&mut self, on: &M) -> F {
        let mut u = [0.0; W];
        for l in 0..W {
            let s = pcg_next(self.0[l]);
            // Below 2^24, so the signed conversion (one instruction) is exact.
            u[l] = (pcg_word(s) >> 8) as i32 as f32 * (1.0 / 16_777_216.0);
            self.0[l] = if on[l] { s } else { self.0[l] };
        }
        u
    }

    /// A uniform in (0, 1] per lane, where `on`.
    #[inline(always)]
    fn uniform_open(&mut self, on: &M) -> F {
        let mut u = [0.0; W];
        for l in 0..W {
            let s = pcg_next(self.0[l]);
            u[l] = ((pcg_word(s) >> 8) as i32 as f32 + 1.0) * (1.0 / 16_777_216.0);
            self.0[l] = if on[l] { s } else { self.0[l] };
        }
        u
    }

    /// A standard normal per lane (Box-Muller, one of the pair), where `on`.
    #[inline(always)]
    fn normal(&mut self, on: &M) -> F {
        let u1 = self.uniform_open(on);
        let u2 = self.uniform(on);
        let mut z = [0.0; W];
        for l in 0..W {
            z[l] = (-2.0 * lanes::ln(u1[l])).sqrt() * lanes::cos_turns(u2[l]);
        }
        z
    }

    /// A Poisson count with mean `m` per lane: inversion below 30, a rounded normal above.
    #[inline(always)]
    fn poisson(&mut self, m: &F) -> F {
        let mut k = [0.0f32; W];
        let big: M = std::array::from_fn(|l| m[l] >= 30.0);
        if any(&big) {
            let z = self.normal(&big);
            for l in 0..W {
                let draw = round_away(m[l] + m[l].sqrt() * z[l]).max(0.0);
                k[l] = if big[l] { draw } else { k[l] };
            }
        }
        let small: M = std::array::from_fn(|l| (m[l] > 0.0) & (m[l] < 30.0));
        if any(&small) {
            let limit: F = std::array::from_fn(|l| lanes::exp(-m[l]));
            let mut p = self.uniform_open(&small);
            let mut go: M = std::array::from_fn(|l| small[l] & (p[l] > limit[l]));
            while any(&go) {
                let u = self.uniform_open(&go);
                for l in 0..W {
                    p[l] = if go[l] { p[l] * u[l] } else { p[l] };
                    k[l] += if go[l] { 1.0 } else { 0.0 };
                    go[l] = go[l] & (p[l] > limit[l]) & (k[l] < 200.0);
                }
            }
        }
        k
    }

    /// Of `n` items per lane, how many pass a chance `p` each.
    #[inline(always)]
    fn binomial(&mut self, n: &F, p: f32) -> F {
        self.binomial_each(n, &[p; W])
    }

    /// Of `n` items per lane, how many pass that lane's chance `p`.
    #[inline(always)]
    fn binomial_each(&mut self, n: &F, p: &F) -> F {
        let mut k = [0.0f32; W];
        let most = n.iter().fold(0.0f32, |a, &b| a.max(b));
        let mut i = 0.0f32;
        while i < most {
            let on: M = std::array::from_fn(|l| i < n[l]);
            let u = self.uniform(&on);
            for l in 0..W {
                k[l] += if on[l] & (u[l] < p[l]) { 1.0 } else { 0.0 };
            }
            i += 1.0;
        }
        k
    }
}

/// Adds `from` into `into`, field by field and lane by lane, and clears it.
#[inline(always)]
fn fold(into: &mut [F; 8], from: &mut [F; 8]) {
    for (tot, part) in into.iter_mut().zip(from.iter_mut()) {
        for l in 0..W {
            tot[l] += part[l];
            part[l] = 0.0;
        }
    }
}

/// Runs replicas `r0..r0 + W` of a point to the end.
#[inline(always)]
pub fn run_batch(p: &PointParams, r0: u32) -> [Outcome; W] {
    let mut rng = Rng(std::array::from_fn(|l| stream(p.seed, r0.wrapping_add(l as u32))));
    let dt_h = p.dt_s / 3_600.0;
    let scale_every = p.scale_every.max(1.0);
    let first_spot = (p.replicas_min * p.spot_share).round();
    let spot_up0 = (first_spot / p.replicas_per_node).ceil().min(p.spot_max_nodes);
    let committed_reps = p.committed_nodes * p.replicas_per_node;
    let od_up0 = ((p.replicas_min - first_spot.min(spot_up0 * p.replicas_per_node) - committed_reps).max(0.0) / p.replicas_per_node)
        .ceil()
        .min(p.od_max_nodes);
    let mut burst: M = [false; W];
    let mut price: F = [p.spot_mean; W];
    let mut stocked_out: M = [false; W];
    let mut spot_up: F = [spot_up0; W];
    let mut od_up: F = [od_up0; W];
    let mut spot_pending: F = [0.0; W];
    let mut od_pending: F = [0.0; W];
    let mut spot_prev: F = [first_spot.min(spot_up0 * p.replicas_per_node); W];
    let mut occupied: F = [spot_up0; W];
    let mut reps_ready: F = [p.replicas_min; W];
    let mut want_prev: F = [p.replicas_min; W];
    let mut queue: F = [0.0; W];
    let mut observed: F = [p.rate_calm * p.e2e_s; W];
    // The outcomes, one array per field (index as in `Outcome`), so the sums vectorise.
    let mut o = [[0.0f32; W]; 8];
    // This block's sums and this group of blocks' (see `BLOCK`).
    let mut bk = [[0.0f32; W]; 8];
    let mut gr = [[0.0f32; W]; 8];
    for step in 0..p.steps {
        // What is the same in every lane: the time of day and whether the autoscaler looks.
        let t = step as f32 * p.dt_s;
        let day = (t - p.diurnal_peak_s) / 86_400.0;
        let cycle = (1.0 + p.diurnal_amp * (6.283_185_5 * (day - day.floor())).cos()).max(0.0);
        let looks = (step as f32 % scale_every) == 0.0;
        // Arrivals.
        let u = rng.uniform(&ALL);
        let mut rate = [0.0; W];
        let mut mean = [0.0; W];
        for l in 0..W {
            burst[l] = if burst[l] { u[l] >= p.p_to_calm } else { u[l] < p.p_to_burst };
            rate[l] = if burst[l] { p.rate_burst } else { p.rate_calm } * cycle;
            mean[l] = rate[l] * p.dt_s;
        }
        let arrivals = rng.poisson(&mean);
        // Replicas wanted.
        let hold = rng.uniform(&ALL);
        let mut want = [0.0; W];
        let mut spot_reps = [0.0; W];
        let mut spot_want = [0.0; W];
        for l in 0..W {
            // Both sides computed and one kept, so the loop has no branch.
            let scaled = (observed[l] / p.target_concurrency).ceil().max(p.replicas_min).min(p.replicas_max);
            let w = if p.target_concurrency > 0.0 { scaled } else { p.replicas_min };
            let w = if (w < want_prev[l]) & (hold[l] < p.p_hold) | !looks { want_prev[l] } else { w };
            want[l] = w;
            want_prev[l] = w;
            spot_reps[l] = round_away(w * p.spot_share);
        }
        // Scaling down frees a spot node only when all of its replicas go.
        let mut shed = [0.0; W];
        let mut p_empties = [0.0; W];
        let mut thinned = [0.0; W];
        for l in 0..W {
            shed[l] = (spot_prev[l] - spot_reps[l]).max(0.0);
            let h = spot_prev[l] / occupied[l].max(1.0);
            let pow = lanes::exp(h * lanes::ln(shed[l] / spot_prev[l]));
            p_empties[l] = if shed[l] > 0.0 { pow } else { 0.0 };
            thinned[l] = if shed[l] > 0.0 { occupied[l] } else { 0.0 };
        }
        let emptied = rng.binomial_each(&thinned, &p_empties);
        for l in 0..W {
            let floor = (spot_reps[l] / p.replicas_per_node).ceil();
            occupied[l] = (occupied[l] - emptied[l]).max(floor).min(spot_reps[l]);
            spot_want[l] = floor.max(occupied[l]).min(p.spot_max_nodes);
        }
        // The spot market.
        let u = rng.uniform(&ALL);
        let jumps: M = std::array::from_fn(|l| u[l] < p.jump_p);
        let mut jump = [0.0; W];
        if any(&jumps) {
            let v = rng.uniform_open(&jumps);
            for l in 0..W {
                jump[l] = if jumps[l] { p.spot_mean * p.jump_size * -lanes::ln(v[l]) } else { 0.0 };
            }
        }
        let z = rng.normal(&ALL);
        let u = rng.uniform(&ALL);
        for l in 0..W {
            price[l] =
                (price[l] + p.spot_revert * (p.spot_mean - price[l]) + p.spot_vol * z[l] + jump[l]).max(p.spot_floor).min(p.spot_cap);
            stocked_out[l] = if stocked_out[l] { u[l] >= p.p_restock } else { u[l] < p.p_stockout };
        }
        // Reclaims, then nodes coming up.
        let lost = rng.binomial(&spot_up, p.p_interrupt);
        let staying = rng.binomial(&spot_pending, p.p_spot_pending);
        let mut surplus = [0.0; W];
        for l in 0..W {
            spot_up[l] -= lost[l];
            occupied[l] = (occupied[l] - lost[l]).max(0.0);
            bk[5][l] += lost[l];
            let ready = spot_pending[l] - staying[l];
            spot_pending[l] -= ready;
            spot_up[l] += ready;
        }
        let od_ready = rng.binomial(&od_pending, p.p_ready);
        for l in 0..W {
            od_pending[l] -= od_ready[l];
            od_up[l] += od_ready[l];
            // Spot: launch what is missing (unless out of stock); the surplus goes after the delay.
            if spot_up[l] + spot_pending[l] < spot_want[l] {
                if !stocked_out[l] {
                    spot_pending[l] = spot_want[l] - spot_up[l];
                }
                surplus[l] = 0.0;
            } else {
                spot_pending[l] = (spot_want[l] - spot_up[l]).max(0.0);
                surplus[l] = (spot_up[l] - spot_want[l]).max(0.0);
            }
        }
        let kept = rng.binomial(&surplus, p.p_keep);
        let mut od_reps = [0.0; W];
        let mut spot_held = [0.0; W];
        for l in 0..W {
            spot_up[l] -= surplus[l] - kept[l];
            // On-demand takes every replica spot cannot hold now.
            spot_held[l] = spot_reps[l].min(spot_up[l] * p.replicas_per_node);
            occupied[l] = occupied[l].max((spot_held[l] / p.replicas_per_node).ceil()).min(spot_up[l]);
            spot_prev[l] = spot_held[l];
            od_reps[l] = want[l] - spot_held[l];
            let od_want = ((od_reps[l] - committed_reps).max(0.0) / p.replicas_per_node).ceil().min(p.od_max_nodes);
            if od_up[l] + od_pending[l] < od_want {
                od_pending[l] = od_want - od_up[l];
                surplus[l] = 0.0;
            } else {
                od_pending[l] = (od_want - od_up[l]).max(0.0);
                surplus[l] = (od_up[l] - od_want).max(0.0);
            }
        }
        let kept = rng.binomial(&surplus, p.p_keep);
        let mut starting = [0.0; W];
        for l in 0..W {
            od_up[l] -= surplus[l] - kept[l];
            // Replicas on ready nodes serve once their model is loaded.
            let placed = spot_held[l] + od_reps[l].min(committed_reps + od_up[l] * p.replicas_per_node);
            reps_ready[l] = reps_ready[l].min(placed);
            starting[l] = placed - reps_ready[l];
        }
        let cold = rng.binomial(&starting, p.p_cold);
        for l in 0..W {
            reps_ready[l] += starting[l] - cold[l];
            let ready = reps_ready[l];
            // Serving: the fluid queue runs from `q0` to `q1` across the step.
            let service = ready * p.mu;
            let q0 = queue[l];
            let backlog = q0 + arrivals[l];
            let served = backlog.min(service * p.dt_s);
            let q1 = backlog - served;
            let keep = p.timeout_s * service.max(rate[l]);
            let dropped = (q1 - keep).max(0.0);
            queue[l] = q1 - dropped;
            // SLO: the share of the step the queue is short enough, times the M/M/c wait fitting the rest.
            let limit = service * p.ttft_budget_s;
            let (lo, hi) = (q0.min(q1), q0.max(q1));
            let part = (limit - lo) / (hi - lo);
            let below = if hi <= limit {
                1.0
            } else if lo >= limit {
                0.0
            } else {
                part
            };
            let waited = 0.5 * (lo + hi.min(limit)) / service;
            let rho = rate[l] / service;
            let y = (2.0 * (ready * p.slots + 1.0)).sqrt();
            let p_wait = if rho > 0.0 { lanes::exp(y * lanes::ln(rho)) } else { 0.0 };
            let tail = 1.0 - p_wait * lanes::exp(-(service - rate[l]) * (p.ttft_budget_s - waited));
            let within = if rate[l] < service { tail } else { 1.0 };
            let ok = if (below > 0.0) & (service > 0.0) { below * within } else { 0.0 };
            // In flight: requests take longer as replicas fill.
            let load = if service > 0.0 { (rate[l] / service).min(1.0) } else { 1.0 };
            observed[l] = (rate[l] * (p.e2e_s + (p.e2e_full_s - p.e2e_s).max(0.0) * load)).min(ready * p.slots) + queue[l];
            // Billing: nodes from launch.
            let spot_nodes = spot_up[l] + spot_pending[l];
            let od_nodes = od_up[l] + od_pending[l];
            bk[0][l] += (spot_nodes * price[l] + od_nodes * p.od_price + p.committed_nodes * p.committed_price) * dt_h;
            bk[1][l] += (spot_nodes + od_nodes + p.committed_nodes) * p.list_price * dt_h;
            bk[2][l] += arrivals[l];
            bk[3][l] += served * ok;
            bk[4][l] += dropped;
            bk[6][l] += spot_nodes * dt_h;
            bk[7][l] += (od_nodes + p.committed_nodes) * dt_h;
        }
        let end = step + 1 == p.steps;
        if (step + 1).is_multiple_of(BLOCK) || end {
            fold(&mut gr, &mut bk);
        }
        if (step + 1).is_multiple_of(BLOCK * BLOCK) || end {
            fold(&mut o, &mut gr);
        }
    }
    std::array::from_fn(|l| Outcome {
        cost: o[0][l],
        list_cost: o[1][l],
        arrived: o[2][l],
        met: o[3][l],
        dropped: o[4][l],
        interruptions: o[5][l],
        spot_node_hours: o[6][l],
        od_node_hours: o[7][l],
    })
}

/// [`run_batch`] compiled for AVX2 and FMA (the same results: Rust does not
/// fuse multiplies and adds on its own). Safe to call only where AVX2 and
/// FMA are known to be there: elsewhere the call is `unsafe`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_batch_avx2(p: &PointParams, r0: u32) -> [Outcome; W] {
    run_batch(p, r0)
}

/// [`run_batch`] with the widest instructions this CPU has.
#[allow(unsafe_code)] // the call into the AVX2 build, the crate's only unsafe
pub fn run_batch_fast(p: &PointParams, r0: u32) -> [Outcome; W] {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: `run_batch_avx2` needs only AVX2 and FMA, and this CPU was
        // just found to have both.
        return unsafe { run_batch_avx2(p, r0) };
    }
    run_batch(p, r0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{run_replica, tests::autoscaled};

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    fn compare(p: &PointParams, batches: u32) -> (usize, usize) {
        let (mut same_draws, mut total) = (0, 0);
        for b in 0..batches {
            let got = run_batch_fast(p, b * W as u32 + 5);
            for (l, g) in got.iter().enumerate() {
                let want = run_replica(p, b * W as u32 + 5 + l as u32);
                total += 1;
                if g.arrived == want.arrived && g.interruptions == want.interruptions {
                    same_draws += 1;
                }
                assert!(close(g.cost, want.cost, 1e-3), "lane {l}: {g:?} against {want:?}");
                assert!(close(g.met, want.met, 1e-3), "lane {l}: {g:?} against {want:?}");
            }
        }
        (same_draws, total)
    }

    #[test]
    fn lanes_follow_the_reference() {
        let p = autoscaled();
        let (same, total) = compare(&p, 16);
        // The draws are the reference's; only a rounding at a threshold may part them.
        assert!(same * 100 >= total * 95, "{same} of {total}");
        let mut big = crate::model::tests::calm();
        big.steps = 200;
        big.rate_calm = 40.0;
        big.rate_burst = 40.0;
        big.spot_share = 1.0;
        big.p_interrupt = 0.05;
        big.p_ready = 0.3;
        big.jump_p = 0.1;
        big.jump_size = 0.3;
        big.spot_vol = 2.0;
        let (same, total) = compare(&big, 8);
        assert!(same * 100 >= total * 95, "{same} of {total}");
    }

    #[test]
    fn the_wide_build_gives_the_same_bits() {
        let p = autoscaled();
        assert_eq!(run_batch_fast(&p, 40), run_batch(&p, 40));
    }
}
