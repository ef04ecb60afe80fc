//! Twin's own recording: `twin record` run on an NVIDIA H200, with
//! nvidia-smi sampling the same GPU beside it (tests/fixtures/README.md).
//! The file must hold every NVML reading at its interval, agree with the
//! driver's energy counter and with the other tool, survive Ctrl-C, and
//! drive the model like any other recording. These run on every checkout:
//! the fixtures are the project's own.

use std::path::PathBuf;
use std::process::Command;
use twin_replay::phases::{self, PhaseOptions};
use twin_replay::{Field, Format, ReadOptions, Telemetry};

fn fixture(name: &str) -> PathBuf {
    crate::root().join("tests/fixtures").join(name)
}

fn recording() -> Telemetry {
    twin_replay::parquet::read(&fixture("h200-twin-record.parquet")).unwrap()
}

fn nvidia_smi_beside_it() -> Telemetry {
    let path = fixture("h200-twin-record-nvidia-smi.csv");
    let (t, report) = twin_replay::read_file(&path, Format::Auto, &ReadOptions::default()).unwrap();
    assert_eq!((report.rows, report.skipped), (t.len(), 0));
    t
}

/// What NVML gives on an H200, every 100 ms: all the readings `twin record`
/// asks for, none missing; the two it does not give are empty, not zero.
#[test]
fn the_recording_holds_every_nvml_reading_at_its_interval() {
    let t = recording();
    assert_eq!(t.len(), 241);
    assert_eq!(t.gpus(), vec![0]);
    assert_eq!(t.names[&0], "NVIDIA H200");
    for f in Field::ALL {
        if matches!(f, Field::SmActive | Field::MemTemp) {
            assert!(t.column(f).iter().all(|v| v.is_nan()), "{} should be empty", f.column());
        } else {
            assert!(t.column(f).iter().all(|v| v.is_finite()), "{} has a missing reading", f.column());
        }
    }
    assert!(t.throttle_reasons.iter().all(Option::is_some));
    assert!(t.column(Field::MemTotal).iter().all(|&v| v == 143_771.0));
    assert!(t.column(Field::PowerLimit).iter().all(|&v| v == 700.0));
    // 100 ms apart, give or take the scheduler of the machine it ran on.
    let gaps: Vec<i64> = t.time_ns.windows(2).map(|w| w[1] - w[0]).collect();
    let (shortest, longest) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(*shortest >= 90_000_000 && *longest <= 110_000_000, "gaps from {shortest} to {longest} ns");
    // The energy counter only goes up; utilisation and power are in range.
    assert!(t.column(Field::Energy).windows(2).all(|w| w[1] >= w[0]));
    assert!(t.column(Field::UtilGpu).iter().all(|&u| (0.0..=100.0).contains(&u)));
    assert!(t.column(Field::Power).iter().all(|&w| w > 0.0 && w <= 720.0));
}

/// Three measures of one GPU's energy: the trapezoid over the recorded
/// power (also computed here by hand), the driver's own counter, and the
/// power nvidia-smi read beside it.
#[test]
fn its_energy_agrees_with_the_driver_counter_and_with_nvidia_smi() {
    let t = recording();
    let e = &twin_replay::energy::by_gpu(&t)[0];
    let p = t.column(Field::Power);
    let by_hand: f64 = (1..t.len()).map(|i| (p[i - 1] + p[i]) / 2.0 * (t.time_ns[i] - t.time_ns[i - 1]) as f64 / 1e9).sum();
    assert!((e.joules - by_hand).abs() <= 1e-9 * by_hand, "{} against {by_hand}", e.joules);
    let counter = t.column(Field::Energy);
    let driver = counter[t.len() - 1] - counter[0];
    assert_eq!(e.counter_joules, Some(driver));
    // 6,429.7 J against 6,402.6 J on the day: power is sampled, the counter integrates.
    assert!((e.joules - driver).abs() / driver < 0.01, "trapezoid {} J, counter {driver} J", e.joules);

    let smi = &twin_replay::energy::by_gpu(&nvidia_smi_beside_it())[0];
    assert_eq!(smi.counter_joules, None);
    assert!((smi.mean_watts - e.mean_watts).abs() / e.mean_watts < 0.01, "nvidia-smi {} W, twin record {} W", smi.mean_watts, e.mean_watts);
}

/// The load the script ran shows up the same way in both tools' records:
/// idle, the sweep's bursts, idle while PyTorch starts, the matrix
/// products, idle. Compute processes appear only while there is load.
#[test]
fn busy_and_idle_phases_match_nvidia_smi_and_the_load() {
    let t = recording();
    let smi = nvidia_smi_beside_it();
    let ours = phases::detect(&t, 0, &PhaseOptions::default());
    let theirs = phases::detect(&smi, 0, &PhaseOptions::default());
    let kinds: Vec<bool> = ours.iter().map(|p| p.busy).collect();
    assert_eq!(kinds, [false, true, false, true, false]);
    assert_eq!(kinds, theirs.iter().map(|p| p.busy).collect::<Vec<_>>());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a.start_ns - b.start_ns).abs() < 250_000_000, "{a:?} against {b:?}");
    }
    let secs: Vec<f64> = ours.iter().map(|p| p.seconds()).collect();
    assert!((5.0..6.5).contains(&secs[1]) && (5.0..6.5).contains(&secs[3]), "{secs:?}");
    assert!(ours[3].mean_power_w.unwrap() > 600.0 && ours[0].mean_power_w.unwrap() < 100.0, "{ours:?}");

    let procs = t.column(Field::Processes);
    let time = &t.time_ns;
    let during = |p: &phases::Phase| -> Vec<usize> { (0..time.len()).filter(|&i| time[i] >= p.start_ns && time[i] < p.end_ns).collect() };
    // The first process starts a moment before utilisation rises.
    assert!(during(&ours[0]).iter().filter(|&&i| time[i] < ours[0].end_ns - 300_000_000).all(|&i| procs[i] == 0.0));
    assert!(during(&ours[3]).iter().all(|&i| procs[i] >= 1.0));
    let sweeps = during(&ours[1]);
    assert!(sweeps.iter().filter(|&&i| procs[i] >= 1.0).count() * 2 > sweeps.len());
}

/// `twin record` stopped by Ctrl-C (SIGINT) after 3 s left a whole file:
/// its footer reads, every sample is there, and the readings are complete.
#[test]
fn a_recording_stopped_by_ctrl_c_is_complete() {
    let t = twin_replay::parquet::read(&fixture("h200-twin-record-ctrl-c.parquet")).unwrap();
    assert_eq!(t.len(), 30);
    let span = (t.time_ns[29] - t.time_ns[0]) as f64 / 1e9;
    assert!((2.8..3.0).contains(&span), "{span}");
    for f in [Field::UtilGpu, Field::Power, Field::Energy, Field::Temp, Field::Processes] {
        assert!(t.column(f).iter().all(|v| v.is_finite()), "{}", f.column());
    }
}

/// `twin trace info` on the project's own recordings: rows, the GPU, the
/// energy by both measures and the phases.
#[test]
fn trace_info_reads_them() {
    let info = |name: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_twin")).args(["trace", "info"]).arg(fixture(name)).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let out = info("h200-twin-record.parquet");
    for want in ["241 rows", "(24.0 s)", "GPU 0 NVIDIA H200", "6429.7 J", "the driver's counter says 6402.6 J", "2 busy, 3 idle"] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // Never busy: 0.0%, not the "-0.0%" an empty float sum gives.
    let out = info("h200-twin-record-ctrl-c.parquet");
    assert!(out.contains("30 rows") && out.contains("0 busy, 1 idle · busy 0.0% of the time"), "{out}");
}

/// The example that replays it runs from a fresh checkout, as a user
/// would run it: the recording, looped over the hour, bills the energy it
/// drew and prices its idle spells as waste.
#[test]
fn the_example_replays_it_onto_its_workstation() {
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["run", "--format", "json"])
        .arg(crate::root().join("examples/h200-twin-record.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &summary["recorded"][0];
    let t = recording();
    // An hour of a 24.1 s pass (the span and one held interval), 241 samples a pass.
    let span = (t.time_ns[t.len() - 1] - t.time_ns[0]) as f64 / 1e9;
    let pass = span + 0.1;
    let samples = r["samples"].as_f64().unwrap();
    assert!((samples - 3_600.0 / pass * t.len() as f64).abs() <= t.len() as f64, "{samples}");
    assert_eq!(r["unobserved_gpu_hours"].as_f64(), Some(0.0));
    // Energy: each pass is the trapezoid plus its last sample held one interval.
    let joules = twin_replay::energy::by_gpu(&t)[0].joules + t.column(Field::Power)[t.len() - 1] * 0.1;
    let kwh = 3_600.0 / pass * joules / 3.6e6;
    let booked = r["energy_kwh"].as_f64().unwrap();
    assert!((booked - kwh).abs() / kwh < 0.01, "{booked} kWh against {kwh}");
    // Idle for 4 s or more twice a pass: before the sweep and while PyTorch starts.
    let passes = 3_600.0 / pass;
    let spells = r["idle_spells"].as_f64().unwrap();
    assert!((spells - 2.0 * passes).abs() <= 2.0, "{spells} idle spells in {passes} passes");
    let busy = r["busy_share"].as_f64().unwrap();
    assert!((0.35..0.55).contains(&busy), "{busy}");
    assert!(r["waste_cost"].as_f64().unwrap() > 0.0);
    let cost = summary["pools"][0]["cost"].as_f64().unwrap();
    assert!((r["busy_cost"].as_f64().unwrap() + r["idle_cost"].as_f64().unwrap() - cost).abs() < 1e-9);
}
