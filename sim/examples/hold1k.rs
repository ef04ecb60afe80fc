fn main() {
    let mut sim = twin_sim::benchmarks::hold_simulation(1000, 1);
    for _ in 0..10_000_000u64 {
        sim.step();
    }
    println!("{}", sim.events_handled());
}
