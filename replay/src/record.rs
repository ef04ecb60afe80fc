//! Recording every NVIDIA GPU of this machine through NVML (`nvml-wrapper`),
//! one canonical [`Sample`] per GPU per look.
//!
//! NVML is loaded at run time (`libnvidia-ml.so.1`), so this builds and runs
//! everywhere; on a machine without the NVIDIA driver, [`Recorder::open`]
//! says so. Measurements a GPU does not support are left empty, never
//! invented.

use crate::{Field, Sample};
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};

/// Why NVML cannot record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The NVIDIA driver's NVML library is not on this machine, or fails to start.
    #[error(
        "cannot record GPU telemetry: NVML did not start ({0}). This machine has no working NVIDIA driver (libnvidia-ml.so.1); run `twin record` on a host with NVIDIA GPUs, or import a recording with `twin trace import`"
    )]
    NoDriver(String),
    /// The driver answered but sees no GPU.
    #[error("cannot record GPU telemetry: the NVIDIA driver is loaded but reports no GPU")]
    NoGpu,
    /// A query failed for a reason other than support.
    #[error("NVML: {0}")]
    Query(String),
}

/// An open NVML session.
pub struct Recorder {
    nvml: Nvml,
    count: u32,
    names: Vec<Option<String>>,
    /// Compute processes per GPU at the last look (NVML `running_compute_processes`).
    pub processes: Vec<Option<u32>>,
}

impl Recorder {
    /// Starts NVML and counts the GPUs.
    pub fn open() -> Result<Recorder, RecordError> {
        let nvml = Nvml::init().map_err(|e| RecordError::NoDriver(e.to_string()))?;
        let count = nvml.device_count().map_err(|e| RecordError::Query(e.to_string()))?;
        if count == 0 {
            return Err(RecordError::NoGpu);
        }
        let names = (0..count).map(|i| nvml.device_by_index(i).ok().and_then(|d| d.name().ok())).collect();
        Ok(Recorder { nvml, count, names, processes: vec![None; count as usize] })
    }

    /// GPUs seen.
    pub fn gpus(&self) -> u32 {
        self.count
    }

    /// The GPU models, by index.
    pub fn names(&self) -> &[Option<String>] {
        &self.names
    }

    /// One sample per GPU, stamped `time_ns`. A GPU that cannot be reached
    /// (fallen off the bus) gives a sample with no measurements.
    pub fn sample(&mut self, time_ns: i64, first: bool) -> Vec<Sample> {
        (0..self.count)
            .map(|i| {
                let mut s = Sample::new(time_ns, i);
                if first {
                    s.gpu_name = self.names[i as usize].clone();
                }
                let Ok(d) = self.nvml.device_by_index(i) else { return s };
                if let Ok(u) = d.utilization_rates() {
                    s.set(Field::UtilGpu, f64::from(u.gpu));
                    s.set(Field::UtilMem, f64::from(u.memory));
                }
                if let Ok(m) = d.memory_info() {
                    s.set(Field::MemUsed, m.used as f64 / 1_048_576.0);
                    s.set(Field::MemTotal, m.total as f64 / 1_048_576.0);
                }
                if let Ok(p) = d.power_usage() {
                    s.set(Field::Power, f64::from(p) / 1e3);
                }
                if let Ok(p) = d.enforced_power_limit() {
                    s.set(Field::PowerLimit, f64::from(p) / 1e3);
                }
                if let Ok(e) = d.total_energy_consumption() {
                    s.set(Field::Energy, e as f64 / 1e3);
                }
                if let Ok(t) = d.temperature(TemperatureSensor::Gpu) {
                    s.set(Field::Temp, f64::from(t));
                }
                if let Ok(c) = d.clock_info(Clock::SM) {
                    s.set(Field::SmClock, f64::from(c));
                }
                if let Ok(c) = d.clock_info(Clock::Memory) {
                    s.set(Field::MemClock, f64::from(c));
                }
                if let Ok(r) = d.current_throttle_reasons() {
                    s.throttle_reasons = Some(r.bits());
                }
                self.processes[i as usize] = d.running_compute_processes().ok().map(|p| p.len() as u32);
                if let Some(n) = self.processes[i as usize] {
                    s.set(Field::Processes, f64::from(n));
                }
                s
            })
            .collect()
    }
}
