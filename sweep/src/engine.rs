//! Running a sweep end to end on either backend: a pilot of every point's
//! first replicas (outcomes kept) fixes the histograms' bounds, then the rest
//! is tallied — on the device by the GPU backend, which reads back only the
//! sums and histograms, or here by the CPU backend — unless the caller keeps
//! every replica's outcome.

use crate::SweepError;
use crate::cpu;
use crate::gpu::GpuBackend;
use crate::model::{Outcome, PointParams};
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
        let first_n = pilot.max(1).min(count);
        let head = self.outcomes(points, 0, first_n, progress)?;
        let mut tallies: Vec<Tally> = head
            .chunks(first_n as usize)
            .map(|part| {
                let mut t = Tally::from_pilot(part, target);
                part.iter().for_each(|o| t.add(o));
                t
            })
            .collect();
        let rest = count - first_n;
        let done_head = points.len() as u64 * u64::from(first_n);
        let mut shifted = |d: u64| progress(done_head + d);
        if keep {
            let tail = self.outcomes(points, first_n, rest, &mut shifted)?;
            let mut all = Vec::with_capacity(points.len() * count as usize);
            for (i, t) in tallies.iter_mut().enumerate() {
                let (h, r) = (&head[i * first_n as usize..(i + 1) * first_n as usize], &tail[i * rest as usize..(i + 1) * rest as usize]);
                r.iter().for_each(|o| t.add(o));
                all.extend_from_slice(h);
                all.extend_from_slice(r);
            }
            return Ok(Swept { tallies, outcomes: Some(all) });
        }
        match self {
            Engine::Gpu(g) => g.tally_into(points, first_n, rest, &mut tallies, &mut shifted)?,
            Engine::Cpu(_) => {
                // Blocks of replicas of every point, so memory stays bounded and progress shows.
                let block = ((CPU_BLOCK / points.len().max(1) as u64).max(1) as u32).min(rest.div_ceil(16).max(1));
                let mut at = 0u32;
                while at < rest {
                    let n = block.min(rest - at);
                    let part = self.outcomes(points, first_n + at, n, &mut |_| {})?;
                    for (t, chunk) in tallies.iter_mut().zip(part.chunks(n as usize)) {
                        chunk.iter().for_each(|o| t.add(o));
                    }
                    at += n;
                    shifted(u64::from(at) * points.len() as u64);
                }
            }
        }
        Ok(Swept { tallies, outcomes: None })
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
        assert!((other.tallies[2].sums[0] - kept.tallies[2].sums[0]).abs() < 1e-6 * kept.tallies[2].sums[0]);
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
