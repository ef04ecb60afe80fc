//! Workloads for the import benchmarks: the criterion bench
//! (`benches/replay.rs`) and `twin bench --only import` time them on the
//! same input. Nothing here reads a clock.

use crate::Telemetry;
use polars::prelude::PolarsResult;
use std::fmt::Write;

/// The baseline the import benchmarks measure Twin's encoder against: the
/// telemetry as a polars frame, written by polars' own `ParquetWriter`
/// (what Twin did before it had its own encoder). Gives the file's bytes.
pub fn parquet_through_polars(t: &Telemetry) -> PolarsResult<Vec<u8>> {
    let mut df = crate::parquet::to_frame(t)?;
    let mut buf = Vec::with_capacity(1 << 20);
    crate::parquet::encode(&mut df, &mut buf)?;
    Ok(buf)
}

/// `rows` lines as `nvidia-smi --query-gpu=... --format=csv -lms 100` writes
/// them for 8 GPUs, with the header: the H200 recording's 15 columns, a
/// tick every 100 ms, busy and idle stretches of 5 s, values varying.
pub fn nvidia_smi_csv(rows: usize) -> String {
    let mut s = String::from(
        "timestamp, index, name, pstate, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], temperature.gpu, temperature.memory, clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active\n",
    );
    s.reserve(rows * 140);
    for i in 0..rows {
        let (tick, gpu) = (i / 8, i % 8);
        let ms = tick * 100;
        let busy = (tick / 50) % 2 == 1;
        let (util, power) = if busy { (97 + (i % 3), 650.0 + (i % 50) as f64 * 1.1) } else { (0, 77.25 + (i % 7) as f64 * 0.01) };
        let _ = writeln!(
            s,
            "2026/11/27 {:02}:{:02}:{:02}.{:03}, {gpu}, NVIDIA H200, P0, {util} %, {} %, {} MiB, 143771 MiB, {power:.2} W, 700.00 W, {}, {}, {} MHz, 3201 MHz, 0x{:016x}",
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            util / 2,
            if busy { 1011 } else { 0 },
            40 + util / 5,
            44 + util / 5,
            if busy { 1980 } else { 345 },
            u64::from(!busy)
        );
    }
    s
}

/// `n` timestamps as a 100 ms logger writes them (`2026/11/27 HH:MM:SS.mmm`).
pub fn logger_timestamps(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ms = i * 100;
            format!("2026/11/27 {:02}:{:02}:{:02}.{:03}", ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
        })
        .collect()
}

/// Reads `stamps` with the nvidia-smi reader's clock, which remembers the
/// last date and hour (what keeps that hand-written reader beside the
/// calendar); the sum of the times, ns (0 for one that does not read).
pub fn read_with_clock(stamps: &[String]) -> i64 {
    let mut clock = crate::nvidia_smi::clock::Clock::new();
    stamps.iter().map(|s| clock.read(s.as_bytes()).unwrap_or(0)).sum()
}

/// The same through `twin_calendar::parse_timestamp`, the baseline.
pub fn read_with_calendar(stamps: &[String]) -> i64 {
    stamps.iter().map(|s| twin_calendar::parse_timestamp(s).unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_workload_reads_whole_with_its_busy_and_idle_stretches() {
        let text = super::nvidia_smi_csv(2_000);
        let (t, report) = crate::read(&text, "bench.csv", crate::Format::NvidiaSmi, &crate::ReadOptions::default()).unwrap();
        assert_eq!((t.len(), report.skipped, report.unit_mismatches), (2_000, 0, 0));
        assert_eq!(t.gpus(), (0..8).collect::<Vec<u32>>());
        let util = t.column(crate::Field::UtilGpu);
        assert!(util[..400].iter().all(|u| *u == 0.0) && util[400..800].iter().all(|u| *u >= 97.0));
    }
}
