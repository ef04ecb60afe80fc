fn main() {
    let m: f64 = std::env::args().nth(1).map_or(10.0, |a| a.parse().unwrap());
    let s =
        twin_sim::scenario::Scenario::from_toml(&twin_sim::benchmarks::fleet_week(m), "w").unwrap();
    let t = std::time::Instant::now();
    let out = twin_sim::run(&s, 1, twin_sim::RunOptions::summary_only()).unwrap();
    let req: u64 = out.summary.services.iter().map(|s| s.arrived).sum();
    eprintln!(
        "{:.2}s {} requests {} events",
        t.elapsed().as_secs_f64(),
        req,
        out.summary.events
    );
}
