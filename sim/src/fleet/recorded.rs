//! Recorded GPU usage replayed onto a pool: telemetry (nvidia-smi, dmon,
//! DCGM, `twin record`) decides when each accelerator was busy and what it
//! drew, instead of the model's own workloads.
//!
//! The edge reads the file and hands the model a [`RecordedUsage`]: samples
//! grouped by GPU, times from the recording's first sample. [`UsageReplay::compute`]
//! walks every sample once and produces what the run books and reports:
//!
//! - per GPU and charge period: busy time, time with data, energy while busy
//!   and while idle (the ledger books busy time to the recording's owner and
//!   the rest as idle, with the recorded energy instead of the model's);
//! - per time-series bin: how many GPUs were busy at some point in it (the
//!   pool series and the consolidation advice);
//! - idle spells: a GPU below the busy threshold for longer than `idle_after`
//!   is waste, with the time and energy it cost.
//!
//! A sample holds from its time to the next sample's (energy by trapezoid
//! between them); the last sample of a GPU holds for one median interval.
//! A gap longer than `max_gap` is not guessed: the sample holds for one
//! interval and the rest is unobserved, billed idle at the accelerator's idle
//! draw and reported. With `repeat`, the recording loops end to end (one
//! median interval between laps) until the horizon.

use crate::time::SimTime;

/// Milliwatt-nanoseconds in one watt-second.
const MWNS_PER_JOULE: f64 = 1e12;

/// Per-GPU samples of a recording, columnar, grouped by GPU in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedUsage {
    /// The GPU ids as recorded, one per group, in the order groups are mapped to the pool's accelerators.
    pub gpus: Vec<u32>,
    /// Group `k` holds rows `offsets[k]..offsets[k + 1]`; `offsets.len() == gpus.len() + 1`.
    pub offsets: Vec<usize>,
    /// Nanoseconds from the recording's first sample, non-decreasing within a group.
    pub time_ns: Vec<i64>,
    /// GPU utilisation in percent; NaN where the recording has none.
    pub util_pct: Vec<f32>,
    /// Power draw in watts; NaN where the recording has none.
    pub power_w: Vec<f32>,
}

impl RecordedUsage {
    /// Builds the groups from rows of (GPU, time ns, utilisation %, power W)
    /// in any order; see [`RecordedUsage::from_columns`].
    pub fn from_rows(rows: &[(u32, i64, f32, f32)]) -> RecordedUsage {
        let gpu: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let time: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let util: Vec<f64> = rows.iter().map(|r| f64::from(r.2)).collect();
        let power: Vec<f64> = rows.iter().map(|r| f64::from(r.3)).collect();
        RecordedUsage::from_columns(&gpu, &time, &util, &power)
    }

    /// Builds the groups from the canonical telemetry columns (GPU id, time
    /// ns, utilisation %, power W; NaN where not recorded), rows in any
    /// order. Groups are in GPU-id order; rows of one GPU are put in time
    /// order, equal times keeping their order. Times become offsets from the
    /// earliest sample. Linear in the rows when they come in time order.
    pub fn from_columns(gpu: &[u32], time_ns: &[i64], util: &[f64], power: &[f64]) -> RecordedUsage {
        let n = gpu.len().min(time_ns.len()).min(util.len()).min(power.len());
        let t0 = time_ns[..n].iter().copied().min().unwrap_or(0);
        let mut ids: Vec<u32> = gpu[..n].to_vec();
        ids.sort_unstable();
        ids.dedup();
        // Counting sort by GPU: stable, so time order within a GPU is kept.
        let index = |g: u32| ids.binary_search(&g).unwrap_or(0);
        let mut offsets = vec![0usize; ids.len() + 1];
        let mut last = (u32::MAX, 0usize);
        let mut group_of = Vec::with_capacity(n);
        for &g in &gpu[..n] {
            if g != last.0 {
                last = (g, index(g));
            }
            group_of.push(last.1 as u32);
            offsets[last.1 + 1] += 1;
        }
        for k in 0..ids.len() {
            offsets[k + 1] += offsets[k];
        }
        let mut next = offsets.clone();
        let mut u = RecordedUsage { gpus: ids, offsets, time_ns: vec![0; n], util_pct: vec![f32::NAN; n], power_w: vec![f32::NAN; n] };
        for i in 0..n {
            let k = group_of[i] as usize;
            let at = next[k];
            next[k] += 1;
            u.time_ns[at] = time_ns[i] - t0;
            u.util_pct[at] = util[i] as f32;
            u.power_w[at] = power[i] as f32;
        }
        for k in 0..u.gpus.len() {
            let r = u.group(k);
            if !u.time_ns[r.clone()].is_sorted() {
                let mut order: Vec<usize> = r.clone().collect();
                order.sort_by_key(|&i| u.time_ns[i]);
                let (t, ut, p): (Vec<i64>, Vec<f32>, Vec<f32>) = (
                    order.iter().map(|&i| u.time_ns[i]).collect(),
                    order.iter().map(|&i| u.util_pct[i]).collect(),
                    order.iter().map(|&i| u.power_w[i]).collect(),
                );
                u.time_ns[r.clone()].copy_from_slice(&t);
                u.util_pct[r.clone()].copy_from_slice(&ut);
                u.power_w[r].copy_from_slice(&p);
            }
        }
        u
    }

    /// Samples in all.
    pub fn len(&self) -> usize {
        self.time_ns.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.time_ns.is_empty()
    }

    /// Number of GPUs recorded.
    pub fn gpu_count(&self) -> usize {
        self.gpus.len()
    }

    /// The rows of group `k`.
    fn group(&self, k: usize) -> std::ops::Range<usize> {
        self.offsets[k]..self.offsets[k + 1]
    }

    /// The median time between consecutive samples of one GPU (1 s when
    /// no GPU has two samples).
    pub fn median_interval_ns(&self) -> i64 {
        let mut steps: Vec<i64> = Vec::new();
        for k in 0..self.gpus.len() {
            let r = self.group(k);
            // A stride keeps this cheap on long recordings; the median barely moves.
            let stride = (r.len() / 4_096).max(1);
            let mut i = r.start + 1;
            while i < r.end {
                steps.push(self.time_ns[i] - self.time_ns[i - 1]);
                i += stride;
            }
        }
        if steps.is_empty() {
            return 1_000_000_000;
        }
        let mid = steps.len() / 2;
        let (_, m, _) = steps.select_nth_unstable(mid);
        (*m).max(1)
    }

    /// From the first sample to the last, ns.
    pub fn span_ns(&self) -> i64 {
        self.time_ns.iter().copied().max().unwrap_or(0)
    }
}

/// How a recording is laid over simulated time and judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageOptions {
    /// Simulated time runs this many times faster than the recording (2.0 plays it in half the time).
    pub speed: f64,
    /// Loop the recording until the horizon.
    pub repeat: bool,
    /// A GPU below this utilisation (percent) is idle.
    pub idle_below_pct: f32,
    /// An idle spell at least this long (simulated ns) is waste.
    pub idle_after_ns: u64,
    /// A gap between samples longer than this (recording ns) is unobserved. 0: three median intervals.
    pub max_gap_ns: i64,
    /// Draw of one idle accelerator, W, for unobserved time.
    pub idle_watts: f64,
}

/// One spell a GPU sat idle for longer than `idle_after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdleSpell {
    /// Index of the GPU among the recording's groups.
    pub gpu: u32,
    /// Start, simulated time.
    pub start: SimTime,
    /// End, simulated time.
    pub end: SimTime,
    /// Energy drawn in the spell, mW·ns.
    pub energy_mwns: u128,
}

/// One GPU in one charge period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuPeriod {
    /// Time at or above the busy threshold, ns.
    pub busy_ns: u64,
    /// Time covered by samples, ns.
    pub observed_ns: u64,
    /// Energy while busy, mW·ns.
    pub energy_busy_mwns: u128,
    /// Energy while idle or unobserved, mW·ns.
    pub energy_idle_mwns: u128,
}

/// A recording laid over a run: what the ledger books, the series shows and the report judges.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageReplay {
    /// Charge-period length, ns.
    pub period_ns: u64,
    /// Number of charge periods up to the horizon.
    pub periods: usize,
    /// The horizon, ns.
    pub horizon_ns: u64,
    /// `[gpu * periods + period]`.
    pub by_period: Vec<GpuPeriod>,
    /// Time-series bin length, ns.
    pub bin_ns: u64,
    /// GPUs busy at some point in each bin.
    pub busy_in_bin: Vec<u32>,
    /// Bins with data for at least one GPU.
    pub observed_bin: Vec<bool>,
    /// Idle spells of at least `idle_after`, by GPU then time.
    pub idle_spells: Vec<IdleSpell>,
    /// Samples walked (laps included).
    pub samples: u64,
    /// Accelerator time with no data, ns (before, between and after samples).
    pub unobserved_ns: u64,
    /// Energy assumed for that time at the idle draw, mW·ns.
    pub unobserved_energy_mwns: u128,
    /// GPUs in the recording.
    pub gpus: usize,
}

struct Acc<'a> {
    periods: &'a mut [GpuPeriod],
    period_ns: u64,
    busy_in_bin: &'a mut [u32],
    observed_bin: &'a mut [bool],
    bin_ns: u64,
    last_bin: Option<usize>,
    horizon: u64,
    idle_after: u64,
    spell: Option<(u64, f64)>,
    spells: &'a mut Vec<IdleSpell>,
    gpu: u32,
    unobserved: (u64, u128),
}

impl Acc<'_> {
    /// Adds the segment `[a, b)` (simulated ns) drawing `watts` on average, in `state`.
    #[inline]
    fn segment(&mut self, mut a: u64, b: u64, watts: f64, state: State) {
        let b = b.min(self.horizon);
        if a >= b {
            return;
        }
        let full = (b - a) as f64;
        let mwns_per_ns = watts * 1e3;
        match state {
            State::Idle => {
                let e = self.spell.get_or_insert((a, 0.0));
                e.1 += mwns_per_ns * full;
            }
            State::Busy | State::Unobserved => self.close_spell(a),
        }
        if state != State::Unobserved {
            let (first, last) = ((a / self.bin_ns) as usize, ((b - 1) / self.bin_ns) as usize);
            for bin in first..=last.min(self.observed_bin.len() - 1) {
                self.observed_bin[bin] = true;
            }
            if state == State::Busy {
                let from = self.last_bin.map_or(first, |l| first.max(l + 1));
                for bin in from..=last.min(self.busy_in_bin.len() - 1) {
                    self.busy_in_bin[bin] += 1;
                }
                self.last_bin = Some(last);
            }
        }
        while a < b {
            let p = (a / self.period_ns) as usize;
            let end = b.min((p as u64 + 1) * self.period_ns);
            let dt = end - a;
            let e = (mwns_per_ns * dt as f64) as u128;
            let slot = &mut self.periods[p.min(self.periods.len() - 1)];
            match state {
                State::Busy => {
                    slot.busy_ns += dt;
                    slot.observed_ns += dt;
                    slot.energy_busy_mwns += e;
                }
                State::Idle => {
                    slot.observed_ns += dt;
                    slot.energy_idle_mwns += e;
                }
                State::Unobserved => {
                    slot.energy_idle_mwns += e;
                    self.unobserved.0 += dt;
                    self.unobserved.1 += e;
                }
            }
            a = end;
        }
    }

    fn close_spell(&mut self, at: u64) {
        if let Some((start, energy)) = self.spell.take()
            && at.saturating_sub(start) >= self.idle_after
        {
            self.spells.push(IdleSpell { gpu: self.gpu, start: SimTime(start), end: SimTime(at), energy_mwns: energy as u128 });
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Busy,
    Idle,
    Unobserved,
}

impl UsageReplay {
    /// Lays `usage` over `[0, horizon)` with charge periods of `period_ns` and
    /// series bins of `bin_ns`. Pure and deterministic; one pass over the samples.
    pub fn compute(usage: &RecordedUsage, opts: &UsageOptions, horizon: SimTime, period_ns: u64, bin_ns: u64) -> UsageReplay {
        let horizon = horizon.as_nanos();
        let period_ns = period_ns.max(1);
        let bin_ns = bin_ns.max(1);
        let periods = horizon.div_ceil(period_ns).max(1) as usize;
        let bins = horizon.div_ceil(bin_ns).max(1) as usize;
        let gpus = usage.gpu_count();
        let mut out = UsageReplay {
            period_ns,
            periods,
            horizon_ns: horizon,
            by_period: vec![GpuPeriod::default(); gpus * periods],
            bin_ns,
            busy_in_bin: vec![0; bins],
            observed_bin: vec![false; bins],
            idle_spells: Vec::new(),
            samples: 0,
            unobserved_ns: 0,
            unobserved_energy_mwns: 0,
            gpus,
        };
        let interval = usage.median_interval_ns();
        let max_gap = if opts.max_gap_ns > 0 { opts.max_gap_ns } else { interval.saturating_mul(3) };
        let speed = if opts.speed.is_finite() && opts.speed > 0.0 { opts.speed } else { 1.0 };
        let lap_ns = usage.span_ns().saturating_add(interval).max(1);
        let scale = |t: i64| -> u64 { (t.max(0) as f64 / speed).round() as u64 };
        let threshold = opts.idle_below_pct;
        for k in 0..gpus {
            let rows = usage.group(k);
            if rows.is_empty() {
                continue;
            }
            let mut acc = Acc {
                periods: &mut out.by_period[k * periods..(k + 1) * periods],
                period_ns,
                busy_in_bin: &mut out.busy_in_bin,
                observed_bin: &mut out.observed_bin,
                bin_ns,
                last_bin: None,
                horizon,
                idle_after: opts.idle_after_ns,
                spell: None,
                spells: &mut out.idle_spells,
                gpu: k as u32,
                unobserved: (0, 0),
            };
            let times = &usage.time_ns[rows.clone()];
            let utils = &usage.util_pct[rows.clone()];
            let powers = &usage.power_w[rows.clone()];
            let n = times.len();
            let mut lap: i64 = 0;
            // Before this GPU's first sample: unobserved.
            let mut cursor = 0u64;
            'laps: loop {
                let base = lap.saturating_mul(lap_ns);
                for i in 0..n {
                    let a = scale(base + times[i]);
                    if a >= horizon {
                        break 'laps;
                    }
                    if a > cursor {
                        acc.segment(cursor, a, opts.idle_watts, State::Unobserved);
                    }
                    out.samples += 1;
                    let (next_t, next_p) = if i + 1 < n { (times[i + 1], powers[i + 1]) } else { (times[i] + interval, f32::NAN) };
                    let gap = next_t - times[i];
                    let p = powers[i];
                    let state = if utils[i].is_nan() {
                        State::Unobserved
                    } else if utils[i] >= threshold {
                        State::Busy
                    } else {
                        State::Idle
                    };
                    let held = if gap > max_gap { interval } else { gap };
                    let b = scale(base + times[i] + held);
                    let watts = match (p.is_nan(), next_p.is_nan() || gap > max_gap) {
                        (false, false) => 0.5 * (f64::from(p) + f64::from(next_p)),
                        (false, true) => f64::from(p),
                        (true, _) => opts.idle_watts,
                    };
                    acc.segment(a, b, watts, state);
                    cursor = b.max(a);
                }
                if !opts.repeat {
                    break;
                }
                lap += 1;
            }
            if cursor < horizon {
                acc.segment(cursor, horizon, opts.idle_watts, State::Unobserved);
            }
            acc.close_spell(horizon);
            out.unobserved_ns += acc.unobserved.0;
            out.unobserved_energy_mwns += acc.unobserved.1;
        }
        out
    }

    /// One GPU in one charge period.
    pub fn at(&self, gpu: usize, period: usize) -> GpuPeriod {
        self.by_period.get(gpu * self.periods + period).copied().unwrap_or_default()
    }

    /// GPUs busy at some point in the bin holding `t`.
    pub fn busy_at(&self, t: SimTime) -> u32 {
        self.busy_in_bin.get((t.as_nanos() / self.bin_ns) as usize).copied().unwrap_or(0)
    }

    /// Most GPUs busy in one bin, and the 99th percentile over bins with data.
    pub fn peak_busy(&self) -> (u32, u32) {
        let mut v: Vec<u32> = self.busy_in_bin.iter().zip(&self.observed_bin).filter(|(_, o)| **o).map(|(b, _)| *b).collect();
        if v.is_empty() {
            return (0, 0);
        }
        v.sort_unstable();
        let p99 = v[((v.len() - 1) as f64 * 0.99).round() as usize];
        (v[v.len() - 1], p99)
    }

    /// Totals over every GPU and period.
    pub fn totals(&self) -> GpuPeriod {
        let mut t = GpuPeriod::default();
        for p in &self.by_period {
            t.busy_ns += p.busy_ns;
            t.observed_ns += p.observed_ns;
            t.energy_busy_mwns += p.energy_busy_mwns;
            t.energy_idle_mwns += p.energy_idle_mwns;
        }
        t
    }

    /// Energy in joules of every GPU over the run, unobserved time at the idle draw included.
    pub fn energy_joules(&self) -> f64 {
        let t = self.totals();
        (t.energy_busy_mwns + t.energy_idle_mwns) as f64 / MWNS_PER_JOULE
    }

    /// Energy in joules the recording itself shows (unobserved time left out).
    pub fn recorded_energy_joules(&self) -> f64 {
        let t = self.totals();
        (t.energy_busy_mwns + t.energy_idle_mwns).saturating_sub(self.unobserved_energy_mwns) as f64 / MWNS_PER_JOULE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1_000_000_000;

    fn opts() -> UsageOptions {
        UsageOptions { speed: 1.0, repeat: false, idle_below_pct: 5.0, idle_after_ns: 10 * S as u64, max_gap_ns: 0, idle_watts: 70.0 }
    }

    /// One GPU, one sample a second: busy for 5 s, idle for 20 s, busy for 5 s.
    fn pattern() -> RecordedUsage {
        let rows: Vec<(u32, i64, f32, f32)> = (0..30)
            .map(|i| {
                let busy = !(5..25).contains(&i);
                (0, i * S, if busy { 90.0 } else { 0.0 }, if busy { 500.0 } else { 100.0 })
            })
            .collect();
        RecordedUsage::from_rows(&rows)
    }

    #[test]
    fn busy_idle_energy_and_spells_are_counted() {
        let u = pattern();
        let r = UsageReplay::compute(&u, &opts(), SimTime(30 * S as u64), 60 * S as u64, 10 * S as u64);
        let t = r.totals();
        assert_eq!(t.busy_ns, 10 * S as u64);
        assert_eq!(t.observed_ns, 30 * S as u64);
        // Busy: 9 steps at 500 W, the two steps into idle at 300 W, the last sample held 1 s at 500 W.
        // Idle: 19 steps at 100 W and the step back to busy at 300 W.
        let busy_j = 4.0 * 500.0 + 300.0 + 5.0 * 500.0 - 0.0;
        let idle_j = 19.0 * 100.0 + 300.0;
        assert!((t.energy_busy_mwns as f64 / 1e12 - busy_j).abs() < 1e-6, "{}", t.energy_busy_mwns as f64 / 1e12);
        assert!((t.energy_idle_mwns as f64 / 1e12 - idle_j).abs() < 1e-6);
        assert_eq!(r.idle_spells.len(), 1);
        assert_eq!((r.idle_spells[0].start, r.idle_spells[0].end), (SimTime(5 * S as u64), SimTime(25 * S as u64)));
        assert_eq!(r.busy_in_bin, vec![1, 0, 1]);
        assert_eq!(r.peak_busy(), (1, 1));
    }

    #[test]
    fn repeat_and_speed_fill_the_horizon() {
        let u = pattern();
        let mut o = opts();
        o.repeat = true;
        o.speed = 2.0;
        // One lap is 30 s of recording = 15 s simulated; 60 s is four laps.
        let r = UsageReplay::compute(&u, &o, SimTime(60 * S as u64), 60 * S as u64, S as u64);
        assert_eq!(r.samples, 120);
        assert_eq!(r.totals().busy_ns, 4 * 5 * S as u64);
        // Idle spells are 10 s simulated: just long enough.
        assert_eq!(r.idle_spells.len(), 4);
    }

    #[test]
    fn gaps_and_time_past_the_recording_are_unobserved() {
        let rows = vec![(0, 0, 50.0, 200.0), (0, S, 50.0, 200.0), (0, 2 * S, 50.0, 200.0), (0, 100 * S, 50.0, 200.0)];
        let u = RecordedUsage::from_rows(&rows);
        let r = UsageReplay::compute(&u, &opts(), SimTime(200 * S as u64), 50 * S as u64, 10 * S as u64);
        let t = r.totals();
        // 0-3 s and 100-101 s observed; the rest unobserved at 70 W.
        assert_eq!(t.observed_ns, 4 * S as u64);
        assert_eq!(t.busy_ns, 4 * S as u64);
        assert!((t.energy_idle_mwns as f64 / 1e12 - 196.0 * 70.0).abs() < 1e-6);
        assert_eq!(r.periods, 4);
        assert_eq!(r.at(0, 2).busy_ns, S as u64);
        assert!(r.idle_spells.is_empty(), "unobserved time is not waste");
    }

    proptest! {
        /// Whatever the samples, time is conserved: per GPU and period, busy
        /// ≤ observed ≤ the period, and busy over all periods equals the sum
        /// of the busy samples' holds; energy is finite.
        #[test]
        fn time_is_conserved(samples in proptest::collection::vec((0u32..3, 0i64..500, 0.0f32..100.0, 0.0f32..700.0), 1..80),
                             horizon_s in 1u64..700, period_s in 1u64..200, repeat: bool, speed in 0.25f64..4.0) {
            let rows: Vec<_> = samples.iter().map(|&(g, t, u, p)| (g, t * S / 2, u, p)).collect();
            let u = RecordedUsage::from_rows(&rows);
            let o = UsageOptions { repeat, speed, ..opts() };
            let r = UsageReplay::compute(&u, &o, SimTime(horizon_s * S as u64), period_s * S as u64, 7 * S as u64);
            for g in 0..r.gpus {
                let mut total = 0u64;
                for p in 0..r.periods {
                    let x = r.at(g, p);
                    prop_assert!(x.busy_ns <= x.observed_ns);
                    prop_assert!(x.observed_ns <= period_s * S as u64);
                    total += x.observed_ns;
                }
                prop_assert!(total <= horizon_s * S as u64);
            }
            for s in &r.idle_spells {
                prop_assert!(s.end > s.start && s.end.as_nanos() <= horizon_s * S as u64);
            }
            prop_assert!(r.energy_joules().is_finite());
            prop_assert!(r.busy_in_bin.iter().all(|&b| b as usize <= r.gpus));
        }
    }
}
