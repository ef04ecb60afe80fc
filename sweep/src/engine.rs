//! Running a sweep end to end on either backend: a pilot of every point's
//! first replicas (outcomes kept) fixes the histograms' bounds, then the rest
//! is tallied — on the device by the GPU backend, which reads back only the
//! sums and histograms, or here by the CPU backend — unless the caller keeps
//! every replica's outcome.

use crate::SweepError;
use crate::cpu;
use crate::gpu::GpuBackend;
use crate::model::{Outcome, PointParams};
use crate::share::{self, Run, RunPart, Share};
use crate::tally::Tally;

/// Replicas of every point in the pilot.
pub const PILOT: u32 = 1024;
/// Most outcomes the CPU backend holds at once when it only tallies.
const CPU_BLOCK: u64 = 1 << 21;

/// Where a sweep runs.
#[derive(Debug)]
pub enum Engine {
    /// A GPU through wgpu (or a CPU Vulkan driver, when it was allowed).
    Gpu(Box<GpuBackend>),
    /// All cores (or this many threads).
    Cpu(usize),
}

/// What a sweep came to.
#[derive(Debug)]
pub struct Swept {
    /// One tally per point, in the points' order.
    pub tallies: Vec<Tally>,
    /// Every replica's outcome, point-major, when they were asked for.
    pub outcomes: Option<Vec<Outcome>>,
}

impl Engine {
    /// "gpu (NVIDIA H200)", "cpu (16 threads)".
    pub fn name(&self) -> String {
        match self {
            Engine::Gpu(g) => format!("gpu ({})", g.adapter_name()),
            Engine::Cpu(t) => {
                format!("cpu ({} threads)", if *t == 0 { rayon::current_num_threads() } else { *t })
            }
        }
    }

    /// Runs `count` replicas of every point (replica indices from 0), with
    /// SLO attainment `target`, keeping every outcome when `keep`.
    /// `progress` is called with the replicas done so far.
    pub fn sweep(
        &self,
        points: &[PointParams],
        count: u32,
        target: f32,
        keep: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Swept, SweepError> {
        self.sweep_with_pilot(points, count, target, keep, PILOT, progress)
    }

    /// [`Self::sweep`] with a pilot of `pilot` replicas a point.
    pub fn sweep_with_pilot(
        &self,
        points: &[PointParams],
        count: u32,
        target: f32,
        keep: bool,
        pilot: u32,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Swept, SweepError> {
        if count == 0 {
            let tallies = points.iter().map(|_| Tally::from_pilot(&[], target)).collect();
            return Ok(Swept { tallies, outcomes: keep.then(Vec::new) });
        }
        let parts = self.share_with_pilot(points, count, target, keep, pilot, Share::WHOLE, progress)?;
        // One share of the whole covers every replica of every point once.
        Ok(share::merge(points.len(), count, parts).expect("the whole sweep is one share"))
    }

    /// Runs share `share` of the sweep of `count` replicas of every point
    /// (see [`crate::share`]): one [`RunPart`] per point it touches, whose
    /// tallies [`share::merge`] adds into exactly what [`Self::sweep`]
    /// computes. `progress` is called with the share's replicas done.
    pub fn sweep_share(
        &self,
        points: &[PointParams],
        count: u32,
        target: f32,
        keep: bool,
        share: Share,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<RunPart>, SweepError> {
        self.share_with_pilot(points, count, target, keep, PILOT, share, progress)
    }

    /// [`Self::sweep_share`] with a pilot of `pilot` replicas a point.
    #[allow(clippy::too_many_arguments)]
    fn share_with_pilot(
        &self,
        points: &[PointParams],
        count: u32,
        target: f32,
        keep: bool,
        pilot: u32,
        share: Share,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<RunPart>, SweepError> {
        let runs = share.runs(points.len(), count);
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let pts: Vec<PointParams> = runs.iter().map(|r| points[r.point]).collect();
        // Every share runs the pilot of each point it touches, so all fit the same histogram bounds.
        let first_n = pilot.max(1).min(count);
        let head = self.outcomes(&pts, 0, first_n, &mut |_| {})?;
        let mut tallies = Vec::with_capacity(runs.len());
        let mut kept: Vec<Option<Vec<Outcome>>> = Vec::with_capacity(runs.len());
        let mut done = 0u64;
        for (r, pilot_outcomes) in runs.iter().zip(head.chunks(first_n as usize)) {
            let mut t = Tally::from_pilot(pilot_outcomes, target);
            let (lo, hi) = (r.first.min(first_n) as usize, (r.first + r.count).min(first_n) as usize);
            let own = &pilot_outcomes[lo..hi];
            own.iter().for_each(|o| t.add(o));
            done += own.len() as u64;
            tallies.push(t);
            kept.push(keep.then(|| own.to_vec()));
        }
        progress(done);
        // The rest, in groups of consecutive runs over the same replicas.
        let mut i = 0;
        while i < runs.len() {
            let rest = |r: &Run| (r.first.max(first_n), r.first + r.count);
            let (from, end) = rest(&runs[i]);
            let j = i + runs[i..].iter().take_while(|r| rest(r) == (from, end)).count();
            let n = end.saturating_sub(from);
            if n > 0 {
                let group = &pts[i..j];
                let mut shifted = |d: u64| progress(done + d);
                if keep {
                    let tail = self.outcomes(group, from, n, &mut shifted)?;
                    for ((t, k), chunk) in tallies[i..j].iter_mut().zip(&mut kept[i..j]).zip(tail.chunks(n as usize)) {
                        chunk.iter().for_each(|o| t.add(o));
                        if let Some(k) = k {
                            k.extend_from_slice(chunk);
                        }
                    }
                } else {
                    self.tally(group, from, n, &mut tallies[i..j], &mut shifted)?;
                }
                done += (j - i) as u64 * u64::from(n);
                progress(done);
            }
            i = j;
        }
        Ok(runs.into_iter().zip(tallies).zip(kept).map(|((run, tally), outcomes)| RunPart { run, tally, outcomes }).collect())
    }

    /// Adds replicas `first..first + count` of every point to `tallies`,
    /// without keeping their outcomes.
    fn tally(
        &self,
        points: &[PointParams],
        first: u32,
        count: u32,
        tallies: &mut [Tally],
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SweepError> {
        match self {
            Engine::Gpu(g) => g.tally_into(points, first, count, tallies, progress),
            Engine::Cpu(_) => {
                // Blocks of replicas of every point, so memory stays bounded and progress shows.
                let block = ((CPU_BLOCK / points.len().max(1) as u64).max(1) as u32).min(count.div_ceil(16).max(1));
                let mut at = 0u32;
                while at < count {
                    let n = block.min(count - at);
                    let part = self.outcomes(points, first + at, n, &mut |_| {})?;
                    for (t, chunk) in tallies.iter_mut().zip(part.chunks(n as usize)) {
                        chunk.iter().for_each(|o| t.add(o));
                    }
                    at += n;
                    progress(u64::from(at) * points.len() as u64);
                }
                Ok(())
            }
        }
    }

    /// Replicas `first..first + count` of every point, point-major.
    pub fn outcomes(
        &self,
        points: &[PointParams],
        first: u32,
        count: u32,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<Outcome>, SweepError> {
        match self {
            Engine::Gpu(g) => g.run(points, first, count, progress),
            Engine::Cpu(threads) => {
                let out = cpu::run(points, first, count, *threads)?;
                progress(out.len() as u64);
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::autoscaled;
    use crate::summary::summarise;

    fn points() -> Vec<PointParams> {
        let a = PointParams { steps: 120, ..autoscaled() };
        vec![a, PointParams { spot_share: 1.0, p_interrupt: 0.05, seed: 8, ..a }, PointParams { mu: 1.5, seed: 9, ..a }]
    }

    #[test]
    fn keeping_outcomes_tallies_the_same_and_keeps_them_in_order() {
        let cpu = Engine::Cpu(2);
        let kept = cpu.sweep_with_pilot(&points(), 700, 0.99, true, 64, &mut |_| {}).unwrap();
        let tallied = cpu.sweep_with_pilot(&points(), 700, 0.99, false, 64, &mut |_| {}).unwrap();
        assert_eq!(kept.tallies, tallied.tallies);
        let all = kept.outcomes.unwrap();
        assert_eq!(all, cpu::run(&points(), 0, 700, 1).unwrap());
        assert_eq!(kept.tallies[1].n, 700);
        assert!(tallied.outcomes.is_none());
        // The pilot's size changes the bins, not the counts.
        let other = cpu.sweep_with_pilot(&points(), 700, 0.99, false, 300, &mut |_| {}).unwrap();
        assert_eq!(other.tallies[2].misses, kept.tallies[2].misses);
        assert!((other.tallies[2].sum(0) - kept.tallies[2].sum(0)).abs() < 1e-6 * kept.tallies[2].sum(0));
    }

    #[test]
    fn progress_reaches_the_total_and_empty_sweeps_are_empty() {
        let mut seen = Vec::new();
        Engine::Cpu(1).sweep_with_pilot(&points(), 500, 0.99, false, 100, &mut |d| seen.push(d)).unwrap();
        assert_eq!(seen.last(), Some(&1500));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        let none = Engine::Cpu(1).sweep(&points(), 0, 0.99, false, &mut |_| {}).unwrap();
        assert!(none.tallies.iter().all(|t| t.n == 0));
    }

    /// Every cut of the work into shares, merged, is the unsharded sweep to
    /// the bit: tallies and kept outcomes, with more shares than units too.
    #[test]
    fn shares_merge_into_the_whole_sweep() {
        let pts = points();
        for engine in [Engine::Cpu(2)].into_iter().chain(crate::gpu::test_backend().map(|g| Engine::Gpu(Box::new(g)))) {
            for (replicas, keep) in [(3000, false), (2100, true), (700, false)] {
                let whole = engine.sweep(&pts, replicas, 0.99, keep, &mut |_| {}).unwrap();
                for count in [1u32, 2, 3, 4, 7, 40] {
                    let mut parts = Vec::new();
                    for index in (0..count).rev() {
                        parts.extend(engine.sweep_share(&pts, replicas, 0.99, keep, Share { index, count }, &mut |_| {}).unwrap());
                    }
                    let merged = share::merge(pts.len(), replicas, parts).unwrap();
                    assert_eq!(merged.tallies, whole.tallies, "{} {replicas} replicas in {count} shares", engine.name());
                    assert_eq!(merged.outcomes, whole.outcomes, "{} {replicas} replicas in {count} shares", engine.name());
                }
            }
        }
    }

    /// The whole path on both backends: summaries agree to the f32 tolerance
    /// of the outcomes and the histograms' resolution.
    #[test]
    fn both_backends_summarise_alike() {
        let Some(gpu) = crate::gpu::test_backend() else { return };
        let pts = points();
        let c = Engine::Cpu(0).sweep_with_pilot(&pts, 3000, 0.99, false, 256, &mut |_| {}).unwrap();
        let g = Engine::Gpu(Box::new(gpu)).sweep_with_pilot(&pts, 3000, 0.99, false, 256, &mut |_| {}).unwrap();
        for (i, (c, g)) in c.tallies.iter().zip(&g.tallies).enumerate() {
            let (sc, sg) = (summarise(vec![], c, 55.0), summarise(vec![], g, 55.0));
            let width = 1.0 / f64::from(c.cost.bounds.per_unit);
            assert_eq!(sc.replicas, sg.replicas);
            assert!((sc.cost_mean - sg.cost_mean).abs() <= 1e-3 * sc.cost_mean, "point {i}: {sc:?} {sg:?}");
            for (a, b) in [(sc.cost_p5, sg.cost_p5), (sc.cost_p50, sg.cost_p50), (sc.cost_p95, sg.cost_p95)] {
                assert!((a - b).abs() <= 2.0 * width + 1e-3 * a, "point {i}: {a} against {b} (bin {width})");
            }
            assert!((sc.attainment_mean - sg.attainment_mean).abs() <= 1e-3, "point {i}");
            assert!((sc.p_miss_slo - sg.p_miss_slo).abs() <= 0.01, "point {i}: {} {}", sc.p_miss_slo, sg.p_miss_slo);
        }
    }
}
