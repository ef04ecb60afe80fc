// The sweep model as a compute shader: `run_replica` of model.rs line for
// line (the same random stream, the same draws in the same order, f32 math),
// one replica per invocation with the whole time loop inside.
//
// Differences from the Rust text that keep the results the same:
// - `round_away` is Rust's `f32::round` (halves away from zero); WGSL's
//   `round` rounds halves to even;
// - `pow(0, y)` is undefined in WGSL, so `rho == 0` is handled before it
//   (`y` is never 0 there);
// - Rust's `x.max(lo).min(hi)` is `min(max(x, lo), hi)`.

// One grid point's parameters: `PointParams` (42 four-byte fields).
struct PointParams {
    steps: u32,
    dt_s: f32,
    rate_calm: f32,
    rate_burst: f32,
    p_to_burst: f32,
    p_to_calm: f32,
    diurnal_amp: f32,
    diurnal_peak_s: f32,
    mu: f32,
    e2e_s: f32,
    ttft_budget_s: f32,
    timeout_s: f32,
    replicas_min: f32,
    replicas_max: f32,
    target_concurrency: f32,
    spot_share: f32,
    replicas_per_node: f32,
    spot_mean: f32,
    spot_revert: f32,
    spot_vol: f32,
    spot_floor: f32,
    spot_cap: f32,
    jump_p: f32,
    jump_size: f32,
    od_price: f32,
    list_price: f32,
    p_interrupt: f32,
    p_ready: f32,
    p_stockout: f32,
    p_restock: f32,
    spot_max_nodes: f32,
    slots: f32,
    seed: u32,
    od_max_nodes: f32,
    p_spot_pending: f32,
    p_cold: f32,
    p_keep: f32,
    p_hold: f32,
    e2e_full_s: f32,
    scale_every: f32,
    committed_nodes: f32,
    committed_price: f32,
}

// One replica's history: `Outcome` (8 f32).
struct Outcome {
    cost: f32,
    list_cost: f32,
    arrived: f32,
    met: f32,
    dropped: f32,
    interruptions: f32,
    spot_node_hours: f32,
    od_node_hours: f32,
}

// One submission: `n` replicas in point-major order, starting at replica
// `first + r0` of point `p0` (an index into `points`), written from
// `outcomes[out_off]` on.
struct Job {
    p0: u32,
    r0: u32,
    // Replicas per point.
    count: u32,
    // Index of the first replica of every point.
    first: u32,
    // Invocations that do work.
    n: u32,
    // Invocations per row of the 2-D dispatch (workgroups in x times 64).
    stride_x: u32,
    out_off: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> points: array<PointParams>;
@group(0) @binding(1) var<storage, read_write> outcomes: array<Outcome>;
@group(0) @binding(2) var<uniform> job: Job;

// Steps summed in a block, and blocks in a group, before the totals (`BLOCK` in model.rs).
const BLOCK: u32 = 256u;

// Field by field sum (`Outcome::plus`).
fn plus(a: Outcome, b: Outcome) -> Outcome {
    return Outcome(a.cost + b.cost, a.list_cost + b.list_cost, a.arrived + b.arrived, a.met + b.met, a.dropped + b.dropped,
        a.interruptions + b.interruptions, a.spot_node_hours + b.spot_node_hours, a.od_node_hours + b.od_node_hours);
}

// PCG hash (O'Neill): the next state and a random word.
fn pcg(state: ptr<function, u32>) -> u32 {
    *state = *state * 747796405u + 2891336453u;
    let s = *state;
    let word = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform in [0, 1) with 24 random bits (`uniform` in model.rs; the name is
// a WGSL keyword).
fn unit(state: ptr<function, u32>) -> f32 {
    return f32(pcg(state) >> 8u) * (1.0 / 16777216.0);
}

// A uniform in (0, 1] (`uniform_open` in model.rs).
fn unit_open(state: ptr<function, u32>) -> f32 {
    return (f32(pcg(state) >> 8u) + 1.0) * (1.0 / 16777216.0);
}

// A standard normal (Box-Muller, one of the pair).
fn normal(state: ptr<function, u32>) -> f32 {
    let u1 = unit_open(state);
    let u2 = unit(state);
    return sqrt(-2.0 * log(u1)) * cos(6.2831855 * u2);
}

// Rust's `f32::round`: halves away from zero.
fn round_away(x: f32) -> f32 {
    let t = trunc(x);
    if abs(x - t) >= 0.5 {
        return t + sign(x);
    }
    return t;
}

// A Poisson count with mean `m`: inversion below 30, rounded normal above.
fn poisson(state: ptr<function, u32>, m: f32) -> f32 {
    if m <= 0.0 {
        return 0.0;
    }
    if m < 30.0 {
        let limit = exp(-m);
        var p = unit_open(state);
        var k = 0.0;
        while p > limit && k < 200.0 {
            p *= unit_open(state);
            k += 1.0;
        }
        return k;
    }
    return max(round_away(m + sqrt(m) * normal(state)), 0.0);
}

// Of `n` items, how many pass a chance `p` each.
fn binomial(state: ptr<function, u32>, n: f32, p: f32) -> f32 {
    var k = 0.0;
    var i = 0.0;
    while i < n {
        if unit(state) < p {
            k += 1.0;
        }
        i += 1.0;
    }
    return k;
}

// The random stream of replica `r` of a point seeded `seed`.
fn stream(seed: u32, r: u32) -> u32 {
    var s = seed ^ (r * 0x9E3779B9u);
    pcg(&s);
    return s ^ r;
}

// Runs replica `r` of a point to the end.
fn run_replica(p: PointParams, r: u32) -> Outcome {
    var rng = stream(p.seed, r);
    var o = Outcome(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    // This block's sums and this group of blocks' (see `BLOCK`).
    var b = Outcome(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    var g = Outcome(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let dt_h = p.dt_s / 3600.0;
    var burst = 0u;
    var price = p.spot_mean;
    var stocked_out = 0u;
    // The run starts with the fewest replicas placed and ready, as the event model does.
    let first_spot = round_away(p.replicas_min * p.spot_share);
    var spot_up = min(ceil(first_spot / p.replicas_per_node), p.spot_max_nodes);
    let committed_reps = p.committed_nodes * p.replicas_per_node;
    var od_up = min(ceil(max(p.replicas_min - min(first_spot, spot_up * p.replicas_per_node) - committed_reps, 0.0) / p.replicas_per_node), p.od_max_nodes);
    var spot_pending = 0.0;
    var od_pending = 0.0;
    // Spot replicas held last step, and the ready spot nodes that hold any.
    var spot_prev = min(first_spot, spot_up * p.replicas_per_node);
    var occupied = spot_up;
    var reps_ready = p.replicas_min;
    var want_prev = p.replicas_min;
    var queue = 0.0;
    var observed = p.rate_calm * p.e2e_s;
    var step = 0u;
    while step < p.steps {
        let t = f32(step) * p.dt_s;
        // Arrivals.
        if burst == 0u {
            if unit(&rng) < p.p_to_burst {
                burst = 1u;
            }
        } else if unit(&rng) < p.p_to_calm {
            burst = 0u;
        }
        let day = (t - p.diurnal_peak_s) / 86400.0;
        var base = p.rate_calm;
        if burst == 1u {
            base = p.rate_burst;
        }
        let rate = base * max(1.0 + p.diurnal_amp * cos(6.2831855 * (day - floor(day))), 0.0);
        let arrivals = poisson(&rng, rate * p.dt_s);
        // Replicas wanted: up at once, down unless the window holds the higher count.
        // The autoscaler sees what the last step left: requests in flight and queued.
        var want = p.replicas_min;
        if p.target_concurrency > 0.0 {
            want = min(max(ceil(observed / p.target_concurrency), p.replicas_min), p.replicas_max);
        }
        let hold = unit(&rng) < p.p_hold;
        let looks = (f32(step) % max(p.scale_every, 1.0)) == 0.0;
        if (want < want_prev && hold) || !looks {
            want = want_prev;
        }
        want_prev = want;
        let spot_reps = round_away(want * p.spot_share);
        // Scaling down takes spot replicas off nodes at random, so a node is
        // freed only when all of its replicas go: one left keeps it.
        let shed = max(spot_prev - spot_reps, 0.0);
        var p_empties = 0.0;
        var thinned = 0.0;
        if shed > 0.0 {
            p_empties = pow(shed / spot_prev, spot_prev / max(occupied, 1.0));
            thinned = occupied;
        }
        let emptied = binomial(&rng, thinned, p_empties);
        occupied = min(max(occupied - emptied, ceil(spot_reps / p.replicas_per_node)), spot_reps);
        let spot_want = min(max(ceil(spot_reps / p.replicas_per_node), occupied), p.spot_max_nodes);
        // The spot market.
        var jump = 0.0;
        if unit(&rng) < p.jump_p {
            jump = p.spot_mean * p.jump_size * -log(unit_open(&rng));
        }
        price = min(max(price + p.spot_revert * (p.spot_mean - price) + p.spot_vol * normal(&rng) + jump, p.spot_floor), p.spot_cap);
        if stocked_out == 0u {
            if unit(&rng) < p.p_stockout {
                stocked_out = 1u;
            }
        } else if unit(&rng) < p.p_restock {
            stocked_out = 0u;
        }
        // Reclaims, then nodes coming up.
        let lost = binomial(&rng, spot_up, p.p_interrupt);
        spot_up -= lost;
        occupied = max(occupied - lost, 0.0);
        b.interruptions += lost;
        let spot_ready = spot_pending - binomial(&rng, spot_pending, p.p_spot_pending);
        spot_pending -= spot_ready;
        spot_up += spot_ready;
        let od_ready = binomial(&rng, od_pending, p.p_ready);
        od_pending -= od_ready;
        od_up += od_ready;
        // Spot: launch what is missing (unless out of stock); a node no
        // longer needed goes after the scale-down delay.
        if spot_up + spot_pending < spot_want {
            if stocked_out == 0u {
                spot_pending = spot_want - spot_up;
            }
        } else {
            spot_pending = max(spot_want - spot_up, 0.0);
            let surplus = max(spot_up - spot_want, 0.0);
            spot_up -= surplus - binomial(&rng, surplus, p.p_keep);
        }
        // On-demand takes every replica spot cannot hold now.
        let spot_held = min(spot_reps, spot_up * p.replicas_per_node);
        occupied = min(max(occupied, ceil(spot_held / p.replicas_per_node)), spot_up);
        spot_prev = spot_held;
        // The rest go to committed nodes first, then on-demand.
        let od_reps = want - spot_held;
        let od_want = min(ceil(max(od_reps - committed_reps, 0.0) / p.replicas_per_node), p.od_max_nodes);
        if od_up + od_pending < od_want {
            od_pending = od_want - od_up;
        } else {
            od_pending = max(od_want - od_up, 0.0);
            let surplus = max(od_up - od_want, 0.0);
            od_up -= surplus - binomial(&rng, surplus, p.p_keep);
        }
        // Replicas on ready nodes serve once their model is loaded; lost ones start again.
        let placed = spot_held + min(od_reps, committed_reps + od_up * p.replicas_per_node);
        reps_ready = min(reps_ready, placed);
        let starting = placed - reps_ready;
        reps_ready += starting - binomial(&rng, starting, p.p_cold);
        let ready = reps_ready;
        // Serving: the fluid queue runs from `q0` to `q1` across the step.
        let service = ready * p.mu;
        let q0 = queue;
        let backlog = queue + arrivals;
        let served = min(backlog, service * p.dt_s);
        let q1 = backlog - served;
        let keep = p.timeout_s * max(service, rate);
        let dropped = max(q1 - keep, 0.0);
        queue = q1 - dropped;
        // SLO: the share of the step the queue is short enough, times the
        // chance that the M/M/c wait (while the replicas keep up) fits the rest.
        let limit = service * p.ttft_budget_s;
        let lo = min(q0, q1);
        let hi = max(q0, q1);
        var below = 0.0;
        if hi <= limit {
            below = 1.0;
        } else if lo < limit {
            below = (limit - lo) / (hi - lo);
        }
        var ok = 0.0;
        if below > 0.0 && service > 0.0 {
            let waited = 0.5 * (lo + min(hi, limit)) / service;
            var within = 1.0;
            if rate < service {
                let rho = rate / service;
                let y = sqrt(2.0 * (ready * p.slots + 1.0));
                var p_wait = 0.0;
                if rho > 0.0 {
                    p_wait = pow(rho, y);
                }
                within = 1.0 - p_wait * exp(-(service - rate) * (p.ttft_budget_s - waited));
            }
            ok = below * within;
        }
        // In flight: requests take longer as replicas fill, up to every batch slot.
        var load = 1.0;
        if service > 0.0 {
            load = min(rate / service, 1.0);
        }
        observed = min(rate * (p.e2e_s + max(p.e2e_full_s - p.e2e_s, 0.0) * load), ready * p.slots) + queue;
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
        step += 1u;
        let end = step == p.steps;
        if step % BLOCK == 0u || end {
            g = plus(g, b);
            b = Outcome(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        }
        if step % (BLOCK * BLOCK) == 0u || end {
            o = plus(o, g);
            g = Outcome(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        }
    }
    // A driver that cuts loops short (llvmpipe stops an invocation's loops
    // after 65,535 iterations in all) leaves the history unfinished: say so
    // with a cost no history has, which the host turns into an error.
    if step < p.steps {
        o.cost = -1.0;
    }
    return o;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * job.stride_x;
    if i >= job.n {
        return;
    }
    // Replica `r0 + i` of point `p0`, carried into the next points without overflow.
    let q = i / job.count;
    let m = i % job.count;
    var point = job.p0 + q;
    var r = job.r0 + m;
    if m >= job.count - job.r0 {
        point += 1u;
        r = m - (job.count - job.r0);
    }
    outcomes[job.out_off + i] = run_replica(points[point], job.first + r);
}

// ---------------------------------------------------------------------------
// Reductions on the device: `tally` turns a chunk's outcomes into per-tile
// sums and extremes and per-point histograms (tally.rs says how they are
// read), so that only those come back to the host.

// Bins of a histogram between its bounds (`BINS` in tally.rs).
const BINS: u32 = 1024u;
// Slots of a histogram: one below, the bins, one above.
const SLOTS: u32 = 1026u;

// A run of one point's replicas in the outcome buffer, summed by one workgroup.
struct Tile {
    // The point, as an index into `bounds` and the histograms.
    point: u32,
    // First outcome of the tile.
    start: u32,
    // Outcomes in the tile.
    len: u32,
    pad: u32,
}

// Where a point's histograms lie, and its SLO target (`PointBounds` in gpu.rs).
struct PointBounds {
    cost_lo: f32,
    cost_per_unit: f32,
    att_lo: f32,
    att_per_unit: f32,
    slo_target: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// One tile's statistics (`Partial` in tally.rs).
struct Partial {
    sums: array<f32, 8>,
    attainment_sum: f32,
    misses: u32,
    n: u32,
    cost_min: f32,
    cost_max: f32,
    attainment_min: f32,
    attainment_max: f32,
    pad: u32,
}

// The tally dispatch.
struct Reduce {
    // Tiles in the chunk.
    tiles: u32,
    // Workgroups per row of the 2-D dispatch.
    stride: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(3) var<storage, read> tiles: array<Tile>;
@group(0) @binding(4) var<storage, read> bounds: array<PointBounds>;
@group(0) @binding(5) var<storage, read_write> partials: array<Partial>;
@group(0) @binding(6) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(7) var<uniform> reduce: Reduce;

var<workgroup> acc_sums: array<array<f32, 9>, 64>;
var<workgroup> acc_counts: array<vec2<u32>, 64>;
var<workgroup> acc_ext: array<vec4<f32>, 64>;

// The slot of `x` (`Bounds::slot` in tally.rs, the same f32 operations).
fn slot(x: f32, lo: f32, per_unit: f32) -> u32 {
    if !(x >= lo) {
        return 0u;
    }
    let b = floor((x - lo) * per_unit);
    if b >= f32(BINS) {
        return BINS + 1u;
    }
    return 1u + u32(b);
}

// Share of arrived requests that met the SLO (1 with no arrivals).
fn attainment(o: Outcome) -> f32 {
    if o.arrived > 0.0 {
        return o.met / o.arrived;
    }
    return 1.0;
}

@compute @workgroup_size(64)
fn tally(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.x + wid.y * reduce.stride;
    var sums: array<f32, 9>;
    var misses = 0u;
    var n = 0u;
    var ext = vec4<f32>(3.4e38, -3.4e38, 3.4e38, -3.4e38);
    if t < reduce.tiles {
        let tile = tiles[t];
        let b = bounds[tile.point];
        let base = tile.point * 2u * SLOTS;
        var i = lane;
        while i < tile.len {
            let o = outcomes[tile.start + i];
            let a = attainment(o);
            sums[0] += o.cost;
            sums[1] += o.list_cost;
            sums[2] += o.arrived;
            sums[3] += o.met;
            sums[4] += o.dropped;
            sums[5] += o.interruptions;
            sums[6] += o.spot_node_hours;
            sums[7] += o.od_node_hours;
            sums[8] += a;
            if a < b.slo_target {
                misses += 1u;
            }
            n += 1u;
            ext = vec4<f32>(min(ext.x, o.cost), max(ext.y, o.cost), min(ext.z, a), max(ext.w, a));
            atomicAdd(&hist[base + slot(o.cost, b.cost_lo, b.cost_per_unit)], 1u);
            atomicAdd(&hist[base + SLOTS + slot(a, b.att_lo, b.att_per_unit)], 1u);
            i += 64u;
        }
    }
    acc_sums[lane] = sums;
    acc_counts[lane] = vec2<u32>(misses, n);
    acc_ext[lane] = ext;
    workgroupBarrier();
    var half = 32u;
    while half > 0u {
        if lane < half {
            for (var k = 0u; k < 9u; k += 1u) {
                acc_sums[lane][k] += acc_sums[lane + half][k];
            }
            acc_counts[lane] += acc_counts[lane + half];
            let m = acc_ext[lane];
            let e = acc_ext[lane + half];
            acc_ext[lane] = vec4<f32>(min(m.x, e.x), max(m.y, e.y), min(m.z, e.z), max(m.w, e.w));
        }
        workgroupBarrier();
        half = half >> 1u;
    }
    if lane == 0u && t < reduce.tiles {
        var p: Partial;
        for (var k = 0u; k < 8u; k += 1u) {
            p.sums[k] = acc_sums[0][k];
        }
        p.attainment_sum = acc_sums[0][8];
        p.misses = acc_counts[0].x;
        p.n = acc_counts[0].y;
        p.cost_min = acc_ext[0].x;
        p.cost_max = acc_ext[0].y;
        p.attainment_min = acc_ext[0].z;
        p.attainment_max = acc_ext[0].w;
        partials[t] = p;
    }
}
