//! `twin record`: samples every NVIDIA GPU through NVML on a tokio timer
//! until Ctrl-C (or `--duration`), writing canonical Parquet that is whole
//! at every moment: rewritten atomically every minute and at the end.

use crate::args::RecordArgs;
use anyhow::Context;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use twin_replay::Telemetry;
use twin_replay::record::Recorder;

/// How often the file on disk catches up with memory.
const CHECKPOINT: Duration = Duration::from_secs(60);

fn parse(what: &str, v: &str) -> anyhow::Result<Duration> {
    let d = twin_sim::scenario::duration::parse_duration(v).map_err(|e| anyhow::anyhow!("--{what} `{v}`: {e}"))?;
    Ok(Duration::from_nanos(d.as_nanos()))
}

/// Writes what has been recorded; samples come in time order from one timer, so they need no sorting.
fn save(t: &Telemetry, out: &std::path::Path) -> anyhow::Result<()> {
    twin_replay::parquet::write(t, out).with_context(|| format!("writing {}", out.display()))
}

pub fn record(a: RecordArgs) -> anyhow::Result<ExitCode> {
    let interval = parse("interval", &a.interval)?;
    if interval < Duration::from_millis(10) {
        anyhow::bail!("--interval {} is below 10ms, faster than NVML refreshes its counters", a.interval);
    }
    let duration = a.duration.as_deref().map(|d| parse("duration", d)).transpose()?;
    let mut recorder = match Recorder::open() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let names: Vec<String> = recorder.names().iter().map(|n| n.clone().unwrap_or_else(|| "?".into())).collect();
    eprintln!("recording {} GPU(s) ({}) every {:?} to {}; Ctrl-C to stop", recorder.gpus(), names.join(", "), interval, a.out.display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().enable_io().build()?;
    let t = runtime.block_on(async {
        let mut t = Telemetry::default();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = tokio::time::Instant::now();
        let mut last_save = start;
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticks.tick() => {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
                    let first = t.is_empty();
                    for s in recorder.sample(now, first) {
                        t.push(s);
                    }
                    if last_save.elapsed() >= CHECKPOINT {
                        last_save = tokio::time::Instant::now();
                        if let Err(e) = save(&t, &a.out) {
                            eprintln!("warning: checkpoint failed: {e:#}");
                        }
                    }
                    if duration.is_some_and(|d| start.elapsed() >= d) {
                        break;
                    }
                }
            }
        }
        t
    });
    if t.is_empty() {
        anyhow::bail!("stopped before the first sample; nothing written");
    }
    save(&t, &a.out)?;
    let energy: f64 = twin_replay::energy::by_gpu(&t).iter().map(|e| e.joules).sum();
    outln!("wrote {} samples of {} GPU(s) to {} ({energy:.1} J over the recording)", t.len(), t.gpus().len(), a.out.display());
    Ok(ExitCode::SUCCESS)
}
