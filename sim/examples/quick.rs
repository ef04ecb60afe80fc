fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let s = twin_sim::scenario::Scenario::from_toml(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    let t = std::time::Instant::now();
    let out = twin_sim::run(&s, 7, twin_sim::RunOptions::summary_only()).unwrap();
    eprintln!("{:?}", t.elapsed());
    print!("{}", twin_sim::report::render(&out.summary));
}
