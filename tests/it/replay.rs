//! Real telemetry in: the H200 recording in ../shared/data read through the
//! readers and the `twin trace` commands, checked against independent
//! computations and the load's own phase log.

use std::process::{Command, Output};
use twin_replay::phases::{self, PhaseOptions};
use twin_replay::{Field, Format, ReadOptions};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).output().expect("run twin")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// The H200 telemetry folder of ../shared/data (see [`crate::shared_data`]).
fn h200() -> Option<std::path::PathBuf> {
    crate::shared_data("gpu_telemetry/h200_nvidia_smi_100ms.csv").map(|f| f.parent().unwrap().to_path_buf())
}

/// Seconds since the epoch of `YYYY/MM/DD HH:MM:SS.mmm`, computed here
/// without the library: days in whole years and months since 1970.
fn independent_seconds(ts: &str) -> f64 {
    let (date, clock) = ts.trim().split_once(' ').unwrap();
    let d: Vec<i64> = date.split('/').map(|x| x.parse().unwrap()).collect();
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..d[0]).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let month_days = [31, if leap(d[0]) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    days += month_days[..(d[1] - 1) as usize].iter().sum::<i64>() + d[2] - 1;
    let c: Vec<f64> = clock.split(':').map(|x| x.parse().unwrap()).collect();
    days as f64 * 86_400.0 + c[0] * 3600.0 + c[1] * 60.0 + c[2]
}

#[test]
fn h200_energy_integrates_power_like_an_independent_computation() {
    let Some(dir) = h200() else { return };
    let path = dir.join("h200_nvidia_smi_100ms.csv");
    // Independent: split on ", ", take the timestamp and `power.draw [W]` by header name, trapezoid in f64.
    let raw = std::fs::read_to_string(&path).unwrap();
    let mut lines = raw.lines();
    let header: Vec<&str> = lines.next().unwrap().split(", ").collect();
    let (ti, pi) = (0, header.iter().position(|h| *h == "power.draw [W]").unwrap());
    let samples: Vec<(f64, f64)> = lines
        .map(|l| l.split(", ").collect::<Vec<_>>())
        .filter(|f| f.len() == header.len())
        .map(|f| (independent_seconds(f[ti]), f[pi].trim_end_matches(" W").parse::<f64>().unwrap()))
        .collect();
    let expected: f64 = samples.windows(2).map(|w| 0.5 * (w[0].1 + w[1].1) * (w[1].0 - w[0].0)).sum();
    let (t, report) = twin_replay::read_file(&path, Format::Auto, &ReadOptions::default()).unwrap();
    assert_eq!(report.rows, samples.len());
    assert_eq!(report.skipped, 0, "{report}");
    let e = twin_replay::energy::by_gpu(&t);
    assert_eq!(e.len(), 1);
    let rel = (e[0].joules - expected).abs() / expected;
    assert!(rel < 1e-3, "energy {} J vs independent {expected} J ({rel:e})", e[0].joules);
    // The dmon recording of the same load at 1 s agrees within 1%.
    let (d, _) = twin_replay::read_file(&dir.join("h200_nvidia_smi_dmon_1s.txt"), Format::Auto, &ReadOptions::default()).unwrap();
    let de = twin_replay::energy::by_gpu(&d)[0].joules;
    assert!((de - expected).abs() / expected < 0.01, "dmon {de} J vs {expected} J");
}

#[test]
fn h200_busy_and_idle_phases_match_the_load_log() {
    let Some(dir) = h200() else { return };
    let (t, _) = twin_replay::read_file(&dir.join("h200_nvidia_smi_100ms.csv"), Format::Auto, &ReadOptions::default()).unwrap();
    let found = phases::detect(&t, 0, &PhaseOptions::default());
    // The log: (start, end, phase). Consecutive loaded phases (ramp, sustained) form one busy stretch.
    let log = std::fs::read_to_string(dir.join("h200_load_phases.csv")).unwrap();
    let mut expected: Vec<(f64, f64)> = Vec::new();
    for l in log.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let (a, b, busy) = (f[0].parse::<f64>().unwrap(), f[1].parse::<f64>().unwrap(), f[2] != "idle");
        if !busy {
            continue;
        }
        match expected.last_mut() {
            Some(last) if (a - last.1).abs() < 0.1 => last.1 = b,
            _ => expected.push((a, b)),
        }
    }
    let busy: Vec<(f64, f64)> = found.iter().filter(|p| p.busy).map(|p| (p.start_ns as f64 / 1e9, p.end_ns as f64 / 1e9)).collect();
    assert_eq!(busy.len(), expected.len(), "found {busy:?}, logged {expected:?}");
    for ((fa, fb), (ea, eb)) in busy.iter().zip(&expected) {
        // nvidia-smi's utilisation lags the load by a sample or few.
        assert!((fa - ea).abs() < 1.0 && (fb - eb).abs() < 1.0, "busy {fa}..{fb} vs logged {ea}..{eb}");
    }
    assert!(found.iter().filter(|p| p.busy).all(|p| p.mean_util_pct.unwrap() > 85.0));
    assert!(found.iter().filter(|p| !p.busy).all(|p| p.mean_power_w.unwrap() < 200.0));
}

#[test]
fn import_writes_parquet_that_info_reads_back() {
    let Some(dir) = h200() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("h200.parquet");
    let src = dir.join("h200_nvidia_smi_100ms.csv");
    let o = twin(&["trace", "import", src.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("wrote 1297 rows, 1 GPU(s)"), "{}", text(&o.stdout));
    let from_csv = twin(&["trace", "info", src.to_str().unwrap(), "--json"]);
    let from_parquet = twin(&["trace", "info", out.to_str().unwrap(), "--json"]);
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_slice(&from_csv.stdout).unwrap(), serde_json::from_slice(&from_parquet.stdout).unwrap());
    assert_eq!(a["rows"], 1297);
    assert_eq!(a["gpus"], b["gpus"], "the Parquet file carries everything info shows");
    assert_eq!(a["gpus"][0]["name"], "NVIDIA H200");
    assert_eq!(a["read"]["ignored_columns"][0], "pstate");
    let human = text(&twin(&["trace", "info", src.to_str().unwrap()]).stdout);
    assert!(human.contains("5 busy, 6 idle") && human.contains("56594.9 J"), "{human}");
}

#[test]
fn a_logger_killed_mid_line_and_bad_rows_are_reported_or_stop_a_strict_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.csv");
    std::fs::write(
        &path,
        "timestamp, index, utilization.gpu [%], power.draw [W]\n\
         2026/11/27 01:58:59.960, 0, 0 %, 77.25 W\n\
         2026/11/27 01:59:00.060, 0, 12 %, [N/A]\n\
         2026/11/27 01:59:00.160, 0, lots %, 90.00 W\n\
         2026/11/27 01:59:00.260, 0, 99 %, 500.00 W\n\
         2026/11/27 01:59:00.36",
    )
    .unwrap();
    let o = twin(&["trace", "info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("3 rows kept of 5 data lines, 2 skipped, last line cut short"), "{out}");
    assert!(out.contains("line 4: `utilization.gpu`: `lots %` is not a number"), "{out}");
    let strict = twin(&["trace", "import", path.to_str().unwrap(), "--strict", "--out", tmp.path().join("x.parquet").to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(text(&strict.stderr).contains("cut.csv:4: `utilization.gpu`"), "{}", text(&strict.stderr));
    assert!(!tmp.path().join("x.parquet").exists(), "nothing written by a failed import");
    let unknown = twin(&["trace", "info", path.to_str().unwrap(), "--format", "excel"]);
    let e = text(&unknown.stderr);
    assert!(e.contains("unknown trace format `excel`") && e.contains("nvidia-smi, dmon, dcgm") && e.contains("gcp-changes"), "{e}");
    // Columns are only what the source had.
    let (t, _) = twin_replay::read_file(&path, Format::NvidiaSmi, &ReadOptions::default()).unwrap();
    assert!(!t.has(Field::Temp) && t.has(Field::Power));
}

/// The Azure code trace replayed through the model: every request at its
/// recorded offset with its recorded tokens, so the simulated arrivals have
/// exactly the trace's burstiness (index of dispersion about 13 at 1 s),
/// and the bursts cost SLO that a Poisson stream of the same mean does not.
#[test]
fn azure_code_trace_replays_exactly_and_its_bursts_cost_slo() {
    let Some(loaded) = crate::load_or_skip(&crate::root().join("scenarios/azure-code-replay.toml")) else { return };
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
    let s = loaded.scenario;
    let trace = s.traces.values().next().unwrap().clone();
    let opts = twin_sim::RunOptions { record_requests: true, ..twin_sim::RunOptions::summary_only() };
    let out = twin_sim::run(&s, s.spec.seed, opts).unwrap();
    let horizon = s.spec.horizon.get().as_nanos();
    let r = &out.records.requests;
    // Records come as requests end; their ids are the arrival order.
    let mut replayed: Vec<usize> = (0..r.len()).filter(|&i| r.service[i] == 0).collect();
    replayed.sort_by_key(|&i| r.id[i]);
    let arrivals: Vec<u64> = replayed.iter().map(|&i| r.arrival_ns[i]).collect();
    let recorded: Vec<u64> = trace.offsets_ns.iter().copied().filter(|&t| t < horizon).collect();
    assert_eq!(arrivals.len(), recorded.len());
    assert!(arrivals == recorded, "every request at its recorded offset, in order");
    let prompts: Vec<u32> = replayed.iter().map(|&i| r.prompt_tokens[i]).collect();
    assert!(prompts == trace.prompt[..recorded.len()], "with its recorded prompt");
    let idc = |t: &[u64], bin| twin_replay::requests::index_of_dispersion(t, bin);
    for bin in [1_000_000_000, 60_000_000_000] {
        assert_eq!(idc(&arrivals, bin), idc(&recorded, bin));
    }
    let at_1s = idc(&arrivals, 1_000_000_000);
    assert!((12.0..14.5).contains(&at_1s), "IDC at 1 s {at_1s}");
    let (replay, poisson) = (&out.summary.services[0], &out.summary.services[1]);
    assert!((replay.arrived as f64 / poisson.arrived as f64 - 1.0).abs() < 0.05, "same mean load");
    assert!(
        poisson.slo_attainment > replay.slo_attainment + 0.03,
        "bursts cost SLO: {} vs {}",
        replay.slo_attainment,
        poisson.slo_attainment
    );
    // Twice as fast: half the span.
    let mut fast = s.clone();
    if let twin_sim::scenario::spec::ArrivalSpec::Trace(t) = &mut fast.spec.services[0].arrivals {
        t.speed = 2.0;
    }
    let out2 = twin_sim::run(&fast, 1, opts).unwrap();
    let r2 = &out2.records.requests;
    let last = (0..r2.len()).filter(|&i| r2.service[i] == 0).map(|i| r2.arrival_ns[i]).max().unwrap();
    assert_eq!(last, (trace.span_ns() as f64 / 2.0).round() as u64, "the whole trace within the horizon at speed 2");
}

#[test]
fn a_missing_or_bad_request_trace_is_named_with_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = |file: &str| {
        format!(
            "format_version = 1\nname = \"t\"\nhorizon = \"10m\"\n[[pools]]\nname = \"a\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\ninitial_nodes = 1\n\
             [[services]]\nname = \"s\"\nmodel = \"llama-3.2-1b\"\npools = [\"a\"]\nslo = {{ ttft = \"1s\", e2e = \"10s\" }}\narrivals = {{ trace = {{ file = \"{file}\" }} }}\n"
        )
    };
    let path = tmp.path().join("s.toml");
    std::fs::write(&path, scenario("nope.csv")).unwrap();
    let o = twin(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("cannot read the request trace") && text(&o.stderr).contains("arrivals.trace.file = \"nope.csv\""),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(tmp.path().join("bad.csv"), "when,what\n1,2\n").unwrap();
    std::fs::write(&path, scenario("bad.csv")).unwrap();
    let o = twin(&["run", path.to_str().unwrap()]);
    assert!(text(&o.stderr).contains("cannot read `auto` as a request trace"), "{}", text(&o.stderr));
    // Without a trace, token distributions are required, and said so.
    let no_tokens = scenario("x.csv").replace("arrivals = { trace = { file = \"x.csv\" } }", "arrivals = { poisson = { rate = 1.0 } }");
    std::fs::write(&path, no_tokens).unwrap();
    let o = twin(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("`services[0].prompt_tokens`: `prompt_tokens` is required"), "{}", text(&o.stderr));
}

/// `twin trace fit` on the Azure code trace: the fitted MMPP reproduces the
/// trace's burstiness within 25% at 1 s and 60 s (run as a generator, not
/// only in closed form), Poisson does not, and what it prints is scenario
/// TOML that checks.
#[test]
fn trace_fit_finds_an_mmpp_as_bursty_as_the_azure_code_trace() {
    let Some(path) = crate::shared_data("inference_arrivals/azure_llm_2023_code.csv") else { return };
    let o = twin(&["trace", "fit", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fit = |m: &str| v["fits"].as_array().unwrap().iter().find(|f| f["model"] == m).unwrap().clone();
    let (trace, poisson, mmpp) = (fit("trace"), fit("poisson"), fit("mmpp"));
    let idc = |f: &serde_json::Value, k: &str| f[k].as_f64().unwrap();
    assert!((12.0..14.5).contains(&idc(&trace, "idc_short")), "{trace}");
    for k in ["idc_short", "idc_long"] {
        let r = idc(&mmpp, k) / idc(&trace, k);
        assert!((0.75..1.25).contains(&r), "MMPP {k} {} vs trace {}", idc(&mmpp, k), idc(&trace, k));
        assert!(idc(&poisson, k) < 1.3, "Poisson is not bursty: {poisson}");
    }
    assert!((mmpp["mean_rate"].as_f64().unwrap() / trace["mean_rate"].as_f64().unwrap() - 1.0).abs() < 0.1);
    // The printed lines drop into a scenario as they are.
    for line in v["toml"].as_array().unwrap().iter().filter_map(|t| t.as_str()).flat_map(str::lines).filter(|l| l.starts_with("arrivals")) {
        let s = format!(
            "format_version = 1\nname = \"f\"\nhorizon = \"1h\"\n[[pools]]\nname = \"a\"\nnode_type = \"g6.xlarge\"\ncapacity = \"on-demand\"\n\
             [[services]]\nname = \"s\"\nmodel = \"llama-3.2-1b\"\npools = [\"a\"]\nslo = {{ ttft = \"1s\", e2e = \"10s\" }}\nprompt_tokens = 100\noutput_tokens = 10\n{line}\n"
        );
        crate::scenario(&s);
    }
}

/// `twin record` on this machine: without an NVIDIA driver it says so and
/// fails, writing nothing; with one, a short recording reads back whole.
#[test]
fn record_says_clearly_when_there_is_no_nvidia_driver_or_records_when_there_is() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rec.parquet");
    let o = twin(&["record", "--interval", "100ms", "--duration", "1s", "--out", out.to_str().unwrap()]);
    match twin_replay::record::Recorder::open() {
        Err(_) => {
            assert_eq!(o.status.code(), Some(1));
            let err = text(&o.stderr);
            assert!(err.contains("no working NVIDIA driver (libnvidia-ml.so.1)") && err.contains("twin trace import"), "{err}");
            assert!(!out.exists());
        }
        Ok(r) => {
            assert!(o.status.success(), "{}", text(&o.stderr));
            let t = twin_replay::parquet::read(&out).unwrap();
            assert_eq!(t.gpus().len(), r.gpus() as usize);
            assert!(t.len() >= 5 * r.gpus() as usize, "{} samples", t.len());
            assert!(t.has(Field::Power));
        }
    }
    let bad = twin(&["record", "--interval", "1ms", "--out", out.to_str().unwrap()]);
    assert!(text(&bad.stderr).contains("below 10ms"), "{}", text(&bad.stderr));
}
