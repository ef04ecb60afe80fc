//! Recording every NVIDIA GPU of this machine through NVML (`nvml-wrapper`),
//! one canonical [`Sample`] per GPU per look.
//!
//! NVML is loaded at run time (`libnvidia-ml.so.1`), so this builds and runs
//! everywhere; on a machine without the NVIDIA driver, [`Recorder::open`]
//! says so. Measurements a GPU does not support are left empty, never
//! invented.

use crate::{Field, Sample};
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::{Device, Nvml};

/// NVML's own error, re-exported for callers of [`Recorder::start`] and
/// [`Recorder::look`] that tell its kinds apart.
pub use nvml_wrapper::error::NvmlError;

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
                self.processes[i as usize] = read(&d, &mut s, &mut |_, _| true);
                s
            })
            .collect()
    }

    /// Starts NVML and counts the GPUs, keeping NVML's own error (so that a
    /// missing library, `LibloadingError`, is told from `NoPermission`).
    /// Unlike [`Self::open`], no GPU is not an error: [`Self::gpus`] is 0.
    pub fn start() -> Result<Recorder, NvmlError> {
        Recorder::started(Nvml::init())
    }

    /// [`Self::start`] with NVML loaded from `lib` (a path to
    /// `libnvidia-ml.so.1`) instead of the loader's search path.
    pub fn start_from(lib: &std::ffi::OsStr) -> Result<Recorder, NvmlError> {
        Recorder::started(Nvml::builder().lib_path(lib).init())
    }

    fn started(nvml: Result<Nvml, NvmlError>) -> Result<Recorder, NvmlError> {
        let nvml = nvml?;
        let count = nvml.device_count()?;
        let names = (0..count).map(|i| nvml.device_by_index(i).ok().and_then(|d| d.name().ok())).collect();
        Ok(Recorder { nvml, count, names, processes: vec![None; count as usize] })
    }

    /// GPU `gpu`'s sample, stamped `time_ns`, with what could not be read.
    ///
    /// Errs when the GPU cannot answer at all: it cannot be reached, or a
    /// query fails with [`NvmlError::GpuLost`], [`NvmlError::Timeout`],
    /// [`NvmlError::Unknown`], [`NvmlError::Uninitialized`] or
    /// [`NvmlError::DriverNotLoaded`] (its remaining queries are not made,
    /// since each could wait as long). Any other failed query leaves its
    /// fields empty and is listed in [`Look::missing`].
    pub fn look(&mut self, gpu: u32, time_ns: i64) -> Result<Look, NvmlError> {
        let d = self.nvml.device_by_index(gpu)?;
        let mut s = Sample::new(time_ns, gpu);
        s.gpu_name = self.names.get(gpu as usize).cloned().flatten();
        let mut missing = Vec::new();
        let mut fatal = None;
        let uuid = match d.uuid() {
            Ok(u) => Some(u),
            Err(e) if gpu_gone(&e) => return Err(e),
            Err(e) => {
                missing.push(("uuid", e));
                None
            }
        };
        let processes = read(&d, &mut s, &mut |what, e| {
            if gpu_gone(&e) {
                fatal = Some(e);
                false
            } else {
                missing.push((what, e));
                true
            }
        });
        if let Some(e) = fatal {
            return Err(e);
        }
        if let Some(p) = self.processes.get_mut(gpu as usize) {
            *p = processes;
        }
        Ok(Look { sample: s, uuid, missing })
    }
}

/// One GPU's look through [`Recorder::look`].
#[derive(Debug)]
pub struct Look {
    /// What was read (fields that could not be read are empty).
    pub sample: Sample,
    /// The GPU's UUID, when NVML gives it.
    pub uuid: Option<String>,
    /// The queries that failed without the GPU being gone, with NVML's
    /// error: `"utilization"`, `"memory"`, `"power"`, `"power limit"`,
    /// `"energy"`, `"temperature"`, `"SM clock"`, `"memory clock"`,
    /// `"throttle reasons"`, `"compute processes"`, `"uuid"`.
    pub missing: Vec<(&'static str, NvmlError)>,
}

/// Whether `e` says the GPU (or the driver) cannot answer at all.
fn gpu_gone(e: &NvmlError) -> bool {
    matches!(e, NvmlError::GpuLost | NvmlError::Timeout | NvmlError::Unknown | NvmlError::Uninitialized | NvmlError::DriverNotLoaded)
}

/// Reads `d`'s measurements into `s`; each failed query goes to `failed`,
/// which says whether to go on. Returns the compute processes, when read.
fn read(d: &Device<'_>, s: &mut Sample, failed: &mut dyn FnMut(&'static str, NvmlError) -> bool) -> Option<u32> {
    macro_rules! ask {
        ($q:expr, $what:literal) => {
            match $q {
                Ok(v) => Some(v),
                Err(e) => {
                    if !failed($what, e) {
                        return None;
                    }
                    None
                }
            }
        };
    }
    if let Some(u) = ask!(d.utilization_rates(), "utilization") {
        s.set(Field::UtilGpu, f64::from(u.gpu));
        s.set(Field::UtilMem, f64::from(u.memory));
    }
    if let Some(m) = ask!(d.memory_info(), "memory") {
        s.set(Field::MemUsed, m.used as f64 / 1_048_576.0);
        s.set(Field::MemTotal, m.total as f64 / 1_048_576.0);
    }
    if let Some(p) = ask!(d.power_usage(), "power") {
        s.set(Field::Power, f64::from(p) / 1e3);
    }
    if let Some(p) = ask!(d.enforced_power_limit(), "power limit") {
        s.set(Field::PowerLimit, f64::from(p) / 1e3);
    }
    if let Some(e) = ask!(d.total_energy_consumption(), "energy") {
        s.set(Field::Energy, e as f64 / 1e3);
    }
    if let Some(t) = ask!(d.temperature(TemperatureSensor::Gpu), "temperature") {
        s.set(Field::Temp, f64::from(t));
    }
    if let Some(c) = ask!(d.clock_info(Clock::SM), "SM clock") {
        s.set(Field::SmClock, f64::from(c));
    }
    if let Some(c) = ask!(d.clock_info(Clock::Memory), "memory clock") {
        s.set(Field::MemClock, f64::from(c));
    }
    if let Some(r) = ask!(d.current_throttle_reasons(), "throttle reasons") {
        s.throttle_reasons = Some(r.bits());
    }
    let processes = ask!(d.running_compute_processes(), "compute processes").map(|p| p.len() as u32);
    if let Some(n) = processes {
        s.set(Field::Processes, f64::from(n));
    }
    processes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_is_nowhere_is_nvmls_own_loading_error() {
        let Err(e) = Recorder::start_from("/nonexistent/libnvidia-ml.so.1".as_ref()) else { panic!("NVML started from nowhere") };
        assert!(matches!(e, NvmlError::LibloadingError(_)), "{e:?}");
        assert!(gpu_gone(&NvmlError::GpuLost) && gpu_gone(&NvmlError::Timeout) && !gpu_gone(&NvmlError::NotSupported));
    }
}
