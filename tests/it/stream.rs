//! `twin run --out` streams records to their files as the run goes: the
//! files are the bytes `write_run` writes from the whole run kept in memory,
//! whatever the cadence of the drains.

use std::path::Path;
use std::process::Command;
use twin_export::{Formats, RunWriter};
use twin_sim::time::SimTime;
use twin_sim::{Run, RunOptions};

/// Every file of `dir`, by name, with its bytes.
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

/// The names of the files that differ between two listings.
fn differing(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = a.iter().chain(b).map(|f| &f.0).collect();
    names
        .into_iter()
        .filter(|n| a.iter().find(|f| &f.0 == *n).map(|f| &f.1) != b.iter().find(|f| &f.0 == *n).map(|f| &f.1))
        .cloned()
        .collect()
}

#[test]
fn the_cli_streams_the_bytes_write_run_writes() {
    // More requests than a row group (512 × 512), so one is cut mid-run.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("streamed");
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", "autoscaler-rescue", "--seed", "3", "--out", out.to_str().unwrap()])
        .current_dir(crate::root())
        .output()
        .expect("twin runs");
    assert!(o.status.success(), "{}", crate::text(&o));
    let loaded = twin_inputs::load("autoscaler-rescue").unwrap();
    let whole = twin_sim::run(&loaded.scenario, 3, RunOptions::default()).unwrap();
    assert!(whole.records.requests.len() > twin_export::ROW_GROUP_ROWS, "{} requests", whole.records.requests.len());
    let kept = dir.path().join("kept");
    twin_export::write_run(&kept, &whole, &loaded.text, Formats::default()).unwrap();
    let (a, b) = (files(&out), files(&kept));
    assert_eq!(a.len(), 14, "{:?}", a.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert!(a == b, "differ: {:?}", differing(&a, &b));
}

#[test]
fn drains_at_any_cadence_give_the_same_files() {
    // The default scenario cut to three hours: spot interruptions, stock-outs,
    // autoscaling; row groups of 20,011 rows so that many are cut mid-drain.
    let text = twin_inputs::library::get(twin_inputs::library::DEFAULT)
        .expect("the default scenario")
        .replace("horizon = \"2d\"", "horizon = \"3h\"");
    assert!(text.contains("horizon = \"3h\""));
    let scenario = crate::scenario(&text);
    let group = 20_011;
    let whole = twin_sim::run(&scenario, 5, RunOptions::default()).unwrap();
    assert!(whole.records.requests.len() > 5 * group, "{} requests", whole.records.requests.len());
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept");
    let currency = &scenario.spec.billing.currency;
    RunWriter::create(&kept, Formats::default(), currency).unwrap().with_row_group_rows(group).finish(&whole, &text).unwrap();
    let expect = files(&kept);
    for steps in [1u64, 2, 11, 500] {
        let out = dir.path().join(format!("every-{steps}"));
        let mut run = Run::new(&scenario, 5, RunOptions::default()).unwrap();
        let mut w = RunWriter::create(&out, Formats::default(), currency).unwrap().with_row_group_rows(group);
        let h = run.horizon().as_nanos();
        for i in 1..=steps {
            run.advance_to(SimTime(h / steps * i));
            w.push(run.take_records()).unwrap();
        }
        w.finish(&run.finish().unwrap(), &text).unwrap();
        let got = files(&out);
        assert!(got == expect, "{steps} steps: differ: {:?}", differing(&got, &expect));
    }
}
