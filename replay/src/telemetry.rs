//! The canonical telemetry schema: one row per (time, GPU) sample, whatever
//! the source. Every reader produces a [`Telemetry`]; energy, idle detection,
//! Parquet and the simulation's replay read only this.
//!
//! | column | type | unit | meaning |
//! | --- | --- | --- | --- |
//! | `time_ns` | i64 | ns since the Unix epoch, UTC | when the sample was taken |
//! | `gpu` | u32 | | the GPU's index on its host |
//! | `gpu_name` | string | | the model, such as `NVIDIA H200`, when the source says (one per GPU) |
//! | `util_gpu_pct` | f64? | % | share of time a kernel ran (NVML utilization.gpu) |
//! | `util_mem_pct` | f64? | % | share of time memory was read or written |
//! | `sm_active_pct` | f64? | % | DCGM `PROF_SM_ACTIVE` × 100, when profiled |
//! | `mem_used_mib` | f64? | MiB | framebuffer memory in use |
//! | `mem_total_mib` | f64? | MiB | framebuffer memory |
//! | `power_w` | f64? | W | board power draw |
//! | `power_limit_w` | f64? | W | enforced power limit |
//! | `energy_j` | f64? | J | the driver's total-energy counter (since it loaded) |
//! | `temp_c` | f64? | °C | GPU temperature |
//! | `mem_temp_c` | f64? | °C | memory temperature |
//! | `sm_clock_mhz` | f64? | MHz | SM clock |
//! | `mem_clock_mhz` | f64? | MHz | memory clock |
//! | `processes` | f64? | count | compute processes on the GPU (NVML, `twin record` only) |
//! | `throttle_reasons` | u64? | bitmask | NVML clock event reasons (0x1 idle, 0x4 SW power cap, ...) |
//!
//! `?` marks a column that may be null: the source lacks it, or wrote
//! `[N/A]` or `[Not Supported]`. In memory a missing measurement is NaN:
//! readers refuse values that are not finite, so NaN never is a reading,
//! and a column costs 8 bytes a row rather than 16 (the simulation's
//! recorded usage marks gaps the same way). [`Telemetry::value`] and
//! [`Telemetry::values_of`] give `Option`s.

/// The optional numeric measurements of a sample, by canonical name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `util_gpu_pct`.
    UtilGpu,
    /// `util_mem_pct`.
    UtilMem,
    /// `sm_active_pct`.
    SmActive,
    /// `mem_used_mib`.
    MemUsed,
    /// `mem_total_mib`.
    MemTotal,
    /// `power_w`.
    Power,
    /// `power_limit_w`.
    PowerLimit,
    /// `energy_j`.
    Energy,
    /// `temp_c`.
    Temp,
    /// `mem_temp_c`.
    MemTemp,
    /// `sm_clock_mhz`.
    SmClock,
    /// `mem_clock_mhz`.
    MemClock,
    /// `processes`: compute processes running on the GPU (NVML; `twin record`).
    Processes,
}

impl Field {
    /// How many fields there are.
    pub const COUNT: usize = 13;

    /// Every field, in column order.
    pub const ALL: [Field; Field::COUNT] = [
        Field::UtilGpu,
        Field::UtilMem,
        Field::SmActive,
        Field::MemUsed,
        Field::MemTotal,
        Field::Power,
        Field::PowerLimit,
        Field::Energy,
        Field::Temp,
        Field::MemTemp,
        Field::SmClock,
        Field::MemClock,
        Field::Processes,
    ];

    /// The canonical column name.
    pub fn column(self) -> &'static str {
        match self {
            Field::UtilGpu => "util_gpu_pct",
            Field::UtilMem => "util_mem_pct",
            Field::SmActive => "sm_active_pct",
            Field::MemUsed => "mem_used_mib",
            Field::MemTotal => "mem_total_mib",
            Field::Power => "power_w",
            Field::PowerLimit => "power_limit_w",
            Field::Energy => "energy_j",
            Field::Temp => "temp_c",
            Field::MemTemp => "mem_temp_c",
            Field::SmClock => "sm_clock_mhz",
            Field::MemClock => "mem_clock_mhz",
            Field::Processes => "processes",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One sample as a reader builds it, before it joins the columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// ns since the Unix epoch, UTC.
    pub time_ns: i64,
    /// GPU index.
    pub gpu: u32,
    /// GPU model, if the source names it. Readers may set it only when it
    /// changes; the telemetry keeps one name per GPU.
    pub gpu_name: Option<String>,
    /// Measurements by [`Field`] order; `None` where unknown.
    pub values: [Option<f64>; Field::COUNT],
    /// NVML clock event (throttle) reasons.
    pub throttle_reasons: Option<u64>,
}

impl Sample {
    /// A sample with no measurements yet.
    pub fn new(time_ns: i64, gpu: u32) -> Sample {
        Sample { time_ns, gpu, ..Sample::default() }
    }

    /// Sets a measurement.
    pub fn set(&mut self, f: Field, v: f64) {
        self.values[f.index()] = Some(v);
    }

    /// A measurement.
    pub fn get(&self, f: Field) -> Option<f64> {
        self.values[f.index()]
    }
}

/// Telemetry in the canonical schema, as columns.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// ns since the Unix epoch, UTC.
    pub time_ns: Vec<i64>,
    /// GPU index.
    pub gpu: Vec<u32>,
    /// GPU model by GPU index, where known.
    pub names: std::collections::BTreeMap<u32, String>,
    /// One column per [`Field`], in [`Field::ALL`] order, NaN where missing.
    pub values: [Vec<f64>; Field::COUNT],
    /// Clock event reasons.
    pub throttle_reasons: Vec<Option<u64>>,
}

/// Equal when every column is: missing measurements (NaN) equal each other.
impl PartialEq for Telemetry {
    fn eq(&self, other: &Telemetry) -> bool {
        let same = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
        self.time_ns == other.time_ns
            && self.gpu == other.gpu
            && self.names == other.names
            && self.throttle_reasons == other.throttle_reasons
            && self.values.iter().zip(&other.values).all(|(a, b)| same(a, b))
    }
}

impl Telemetry {
    /// Rows.
    pub fn len(&self) -> usize {
        self.time_ns.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.time_ns.is_empty()
    }

    /// Appends a sample.
    pub fn push(&mut self, s: Sample) {
        self.time_ns.push(s.time_ns);
        self.gpu.push(s.gpu);
        if let Some(n) = s.gpu_name {
            self.names.insert(s.gpu, n);
        }
        for (col, v) in self.values.iter_mut().zip(s.values) {
            col.push(v.unwrap_or(f64::NAN));
        }
        self.throttle_reasons.push(s.throttle_reasons);
    }

    /// Room for `rows` more rows in every column.
    pub fn reserve(&mut self, rows: usize) {
        self.time_ns.reserve(rows);
        self.gpu.reserve(rows);
        for col in &mut self.values {
            col.reserve(rows);
        }
        self.throttle_reasons.reserve(rows);
    }

    /// Appends another telemetry's rows (its GPU names win).
    pub fn append(&mut self, other: Telemetry) {
        self.time_ns.extend(other.time_ns);
        self.gpu.extend(other.gpu);
        for (a, b) in self.values.iter_mut().zip(other.values) {
            a.extend(b);
        }
        self.throttle_reasons.extend(other.throttle_reasons);
        self.names.extend(other.names);
    }

    /// Builds columns from samples, in their order.
    pub fn from_samples(samples: Vec<Sample>) -> Telemetry {
        let mut t = Telemetry::default();
        for s in samples {
            t.push(s);
        }
        t
    }

    /// Reorders rows by `order` (a permutation of row indices).
    pub fn permute(&mut self, order: &[usize]) {
        fn take<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&i| v[i].clone()).collect()
        }
        self.time_ns = take(&self.time_ns, order);
        self.gpu = take(&self.gpu, order);
        for col in &mut self.values {
            *col = take(col, order);
        }
        self.throttle_reasons = take(&self.throttle_reasons, order);
    }

    /// A measurement column, NaN where a row lacks it.
    pub fn column(&self, f: Field) -> &[f64] {
        &self.values[f.index()]
    }

    /// A row's measurement, if it has one.
    pub fn value(&self, f: Field, row: usize) -> Option<f64> {
        self.values[f.index()].get(row).copied().filter(|v| !v.is_nan())
    }

    /// A measurement column as `Option`s.
    pub fn values_of(&self, f: Field) -> Vec<Option<f64>> {
        self.column(f).iter().map(|v| (!v.is_nan()).then_some(*v)).collect()
    }

    /// Whether any row has this measurement.
    pub fn has(&self, f: Field) -> bool {
        self.column(f).iter().any(|v| !v.is_nan())
    }

    /// The GPUs present, ascending.
    pub fn gpus(&self) -> Vec<u32> {
        let mut g = self.gpu.clone();
        g.sort_unstable();
        g.dedup();
        g
    }

    /// Row indices of one GPU, in time order (stable for equal times).
    pub fn rows_of(&self, gpu: u32) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.len()).filter(|&i| self.gpu[i] == gpu).collect();
        rows.sort_by_key(|&i| self.time_ns[i]);
        rows
    }
}
