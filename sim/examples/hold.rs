fn main() {
    for pending in [1_000usize, 100_000, 1_000_000] {
        let mut sim = twin_sim::benchmarks::hold_simulation(pending, 1);
        for _ in 0..pending {
            sim.step();
        }
        let n = 20_000_000u64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            sim.step();
        }
        println!(
            "{pending}: {:.1} M/s",
            n as f64 / t.elapsed().as_secs_f64() / 1e6
        );
    }
}
