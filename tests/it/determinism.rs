//! Same scenario and seed: byte-identical results, whatever the thread count.

use std::path::Path;
use std::process::Command;

fn run_to(dir: &Path, seed: &str, threads: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_twin"));
    cmd.args(["run", "autoscaler-rescue", "--seed", seed, "--out", dir.to_str().unwrap(), "--format", "json"]);
    if let Some(t) = threads {
        cmd.env("POLARS_MAX_THREADS", t).env("RAYON_NUM_THREADS", t);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("stdout.json"), &o.stdout).unwrap();
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    run_to(&a, "42", None);
    run_to(&b, "42", Some("1"));
    run_to(&c, "43", None);
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    assert_eq!(fa.len(), 15, "summary, scenario, stdout and six tables in two formats");
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{name} differs between runs with the same seed");
    }
    for name in ["summary.json", "requests.parquet", "ledger.parquet", "service_series.parquet", "decisions.parquet"] {
        let x = &fa.iter().find(|f| f.0 == name).unwrap().1;
        let z = &fc.iter().find(|f| f.0 == name).unwrap().1;
        assert!(x != z, "{name} is the same with another seed");
    }
}

#[test]
fn the_library_gives_the_same_output_twice_in_one_process() {
    let s = crate::scenario(&std::fs::read_to_string(crate::root().join("scenarios/mixed-fleet.toml")).unwrap());
    let run = || twin_sim::run(&s, 9, twin_sim::RunOptions::default()).unwrap();
    let (x, y) = (run(), run());
    assert_eq!(x.summary, y.summary);
    assert_eq!(x.records, y.records);
}
