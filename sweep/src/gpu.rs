//! The GPU backend: the model of [`crate::model`] as a wgpu compute shader
//! (`kernel.wgsl`, the same code line for line), one replica per invocation
//! with the whole time loop inside the shader.
//!
//! A sweep runs in chunks, each as large as one outcome buffer may be on the
//! device; a chunk runs as several submissions sized by replica-steps so
//! that each takes tens of milliseconds (the size adapts to the measured
//! time), and progress is reported between submissions. A finished chunk
//! is either read back whole ([`GpuBackend::run`]: every replica's outcome)
//! or reduced on the device ([`GpuBackend::tally_into`], the `tally` entry
//! point: per-tile sums and extremes, per-point histograms), so that only
//! summaries cross the bus. Outcomes come out in the layout of
//! [`crate::cpu::run`] and agree with it up to the rounding of the device's
//! transcendental functions (see the tests for the tolerance).
//!
//! ```no_run
//! # fn main() -> Result<(), twin_sweep::SweepError> {
//! use twin_sweep::{PointParams, gpu::GpuBackend};
//! let gpu = GpuBackend::new(false)?;
//! let points = [PointParams { steps: 720, ..Default::default() }];
//! let outcomes = gpu.run(&points, 0, 10_000, &mut |done| eprintln!("{done} replicas"))?;
//! assert_eq!(outcomes.len(), 10_000);
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use crate::SweepError;
use crate::model::{Outcome, PointParams};
use crate::tally::{Partial, SLOTS, Tally};

/// Invocations per workgroup (`@workgroup_size` in the shader).
pub(crate) const WORKGROUP: u64 = 64;
/// Bytes of one outcome.
const OUTCOME_BYTES: u64 = size_of::<Outcome>() as u64;
/// Bytes of one point's parameters.
const POINT_BYTES: u64 = size_of::<PointParams>() as u64;
/// Most bytes of outcomes in one chunk, whatever the device allows (128 MiB).
const CHUNK_BYTES: u64 = 128 << 20;
/// Replica-steps of the first submission, before the size adapts.
const FIRST_BUDGET: u64 = 1 << 22;
/// Fewest and most replica-steps of one submission.
const BUDGET_RANGE: (u64, u64) = (1 << 16, 1 << 40);
/// Time one submission should take.
const TARGET: Duration = Duration::from_millis(30);

/// One submission's work, as the shader's `Job` uniform reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Job {
    /// First point, as an index into the chunk's parameter buffer.
    p0: u32,
    /// Replica (less `first`) of the first point to start at.
    r0: u32,
    /// Replicas per point.
    count: u32,
    /// Index of every point's first replica.
    first: u32,
    /// Replicas in the submission.
    n: u32,
    /// Invocations per row of the dispatch.
    stride_x: u32,
    /// Where in the chunk's outcome buffer the submission writes.
    out_off: u32,
    /// Padding to 32 bytes.
    pad: u32,
}

// The shader's `Job` uniform: 4-byte scalars only.
crate::layout::wgsl_layout!(Job, size 32 { p0: 0, r0: 4, count: 8, first: 12, n: 16, stride_x: 20, out_off: 24, pad: 28 });

/// A chunk of a sweep: the `len` replicas from flat index `start`
/// (point-major, `count` replicas a point, the first of each numbered `first`).
#[derive(Clone, Copy, Debug)]
struct Chunk {
    first: u32,
    count: u32,
    start: u64,
    len: u64,
}

/// Replicas one workgroup of the tally sums.
pub(crate) const TILE: u64 = 1024;

/// A run of one point's replicas in a chunk's outcome buffer (`Tile` in the shader).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Tile {
    point: u32,
    start: u32,
    len: u32,
    pad: u32,
}

crate::layout::wgsl_layout!(Tile, size 16 { point: 0, start: 4, len: 8, pad: 12 });

/// A point's histogram bounds and SLO target (`PointBounds` in the shader).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct PointBounds {
    cost_lo: f32,
    cost_per_unit: f32,
    att_lo: f32,
    att_per_unit: f32,
    slo_target: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

crate::layout::wgsl_layout!(PointBounds, size 32 {
    cost_lo: 0, cost_per_unit: 4, att_lo: 8, att_per_unit: 12, slo_target: 16, pad0: 20, pad1: 24, pad2: 28,
});

/// The tally dispatch (`Reduce` uniform in the shader).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Reduce {
    /// Tiles in the chunk.
    tiles: u32,
    /// Workgroups per row of the 2-D dispatch.
    stride: u32,
    pad0: u32,
    pad1: u32,
}

crate::layout::wgsl_layout!(Reduce, size 16 { tiles: 0, stride: 4, pad0: 8, pad1: 12 });

/// What went wrong on the device in the middle of a sweep
/// ([`SweepError::Device`] says how far the sweep got).
#[derive(Debug, thiserror::Error)]
pub enum GpuFault {
    /// The device was lost; it stays lost.
    #[error("device lost ({reason:?}){}{message}", if .message.is_empty() { "" } else { ": " })]
    Lost {
        /// Why, as wgpu classes it.
        reason: wgpu::DeviceLostReason,
        /// What the driver said (may be empty).
        message: String,
    },
    /// Errors the device reported outside any error scope, oldest first.
    #[error("{}", .0.join("; "))]
    Reported(Vec<String>),
    /// Waiting for a submission failed.
    #[error("{0}")]
    Poll(wgpu::PollError),
    /// Mapping results for reading failed.
    #[error("reading results back failed: {0}")]
    Map(wgpu::BufferAsyncError),
    /// Mapping results for reading did not finish within a minute.
    #[error("reading results back never finished")]
    MapTimeout,
    /// The mapped results could not be viewed.
    #[error("{0}")]
    View(wgpu::MapRangeError),
}

/// A GPU (or, when allowed, a CPU Vulkan driver) ready to run sweeps.
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    /// The reduction of a chunk's outcomes (`tally` in the shader).
    tally: wgpu::ComputePipeline,
    info: wgpu::AdapterInfo,
    /// Largest storage buffer the device binds, bytes.
    max_binding: u64,
    /// Most workgroups in one dimension of a dispatch.
    max_groups: u64,
    /// Errors the device reported outside any error scope, oldest first.
    errors: Arc<Mutex<Vec<String>>>,
    /// Why the device was lost, once it is.
    lost: Arc<Mutex<Option<(wgpu::DeviceLostReason, String)>>>,
    /// Replica-steps per submission, adapted to the measured time.
    budget: AtomicU64,
    /// Whether `budget` adapts (tests fix it).
    adaptive: bool,
    /// Most replicas in one chunk (tests lower it).
    chunk_cap: u64,
}

impl std::fmt::Debug for GpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuBackend").field("adapter", &self.info.name).field("device_type", &self.info.device_type).finish_non_exhaustive()
    }
}

/// How much an adapter is preferred: lower is better, `None` never.
fn rank(kind: wgpu::DeviceType, allow_software: bool) -> Option<u8> {
    match kind {
        wgpu::DeviceType::DiscreteGpu => Some(0),
        wgpu::DeviceType::IntegratedGpu => Some(1),
        wgpu::DeviceType::VirtualGpu => Some(2),
        wgpu::DeviceType::Other => Some(3),
        wgpu::DeviceType::Cpu => allow_software.then_some(4),
    }
}

/// An adapter as a user reads it: "NVIDIA H100 (DiscreteGpu, Vulkan)".
fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.device_type, info.backend)
}

impl GpuBackend {
    /// Finds an adapter and compiles the sweep kernel on it. A GPU
    /// (discrete, then integrated, then any other) is preferred; a CPU
    /// Vulkan driver such as llvmpipe is used only when `allow_software` is
    /// true. Fails with [`SweepError::NoAdapter`] saying what was found.
    pub fn new(allow_software: bool) -> Result<GpuBackend, SweepError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let found: Vec<String> = adapters.iter().map(|a| describe(&a.get_info())).collect();
        let best = adapters
            .into_iter()
            .filter_map(|a| rank(a.get_info().device_type, allow_software).map(|r| (r, a)))
            .min_by_key(|(r, a)| (*r, a.get_info().backend != wgpu::Backend::Vulkan))
            .map(|(_, a)| a);
        let Some(adapter) = best else {
            return Err(SweepError::NoAdapter(if found.is_empty() {
                "no GPU adapter found: install a Vulkan driver (on a machine without a GPU, `mesa-vulkan-drivers` \
                 provides a CPU one, with `libvulkan1`), or run with --backend cpu"
                    .to_string()
            } else {
                format!(
                    "no usable GPU adapter: found only software adapters ({}), which are used only when allowed; \
                     allow them or run with --backend cpu",
                    found.join(", ")
                )
            }));
        };
        let info = adapter.get_info();
        let has = adapter.limits();
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: has.max_storage_buffer_binding_size,
            max_buffer_size: has.max_buffer_size,
            // The tally reads and writes five storage buffers.
            max_storage_buffers_per_shader_stage: has.max_storage_buffers_per_shader_stage.min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let fail = |what: &str, e: &dyn std::fmt::Display| SweepError::NoAdapter(format!("{} {what}: {e}", describe(&info)));
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("twin-sweep"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| fail("would not open a device", &e))?;

        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.to_string())));
        let lost = Arc::new(Mutex::new(None));
        let sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some((reason, message));
        });

        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("sweep kernel"),
            source: wgpu::ShaderSource::Wgsl(include_str!("kernel.wgsl").into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("sweep kernel"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let tally = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("sweep tally"),
            layout: None,
            module: &module,
            entry_point: Some("tally"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(fail("could not build the sweep kernel", &e));
        }
        Ok(GpuBackend {
            device,
            queue,
            pipeline,
            tally,
            info,
            max_binding: limits.max_storage_buffer_binding_size.min(limits.max_buffer_size),
            max_groups: u64::from(limits.max_compute_workgroups_per_dimension),
            errors,
            lost,
            budget: AtomicU64::new(FIRST_BUDGET),
            adaptive: true,
            chunk_cap: u64::MAX,
        })
    }

    /// The adapter's name, e.g. "NVIDIA H200" or "llvmpipe (LLVM 15.0.7, 256 bits)".
    pub fn adapter_name(&self) -> String {
        self.info.name.clone()
    }

    /// Whether the adapter is a CPU driver (llvmpipe) rather than a GPU.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Runs replicas `first..first + count` of every point, as
    /// [`crate::cpu::run`] does and in its layout (point `i`'s replica `r`
    /// at `i * count + r`). `progress` is called between submissions with
    /// the replicas done so far. On a device failure the outcomes of
    /// finished chunks are lost with the error; [`Self::run_into`] keeps them.
    pub fn run(&self, points: &[PointParams], first: u32, count: u32, progress: &mut dyn FnMut(u64)) -> Result<Vec<Outcome>, SweepError> {
        let mut out = Vec::new();
        self.run_into(points, first, count, progress, &mut out)?;
        Ok(out)
    }

    /// [`Self::run`], appending outcomes to `out` as each chunk finishes.
    /// When the device fails, `out` keeps every finished chunk (in order,
    /// from the first replica of the first point) and the error's `done`
    /// says how many replicas that is.
    pub fn run_into(
        &self,
        points: &[PointParams],
        first: u32,
        count: u32,
        progress: &mut dyn FnMut(u64),
        out: &mut Vec<Outcome>,
    ) -> Result<(), SweepError> {
        let count64 = u64::from(count);
        let total = points.len() as u64 * count64;
        let mut done = 0u64;
        let fail = |done: u64, fault: GpuFault| SweepError::Device { done, total, fault };
        self.check().map_err(|f| fail(0, f))?;
        if total == 0 {
            return Ok(());
        }
        out.reserve(usize::try_from(total).unwrap_or(0));
        let chunk = self.chunk_len(count64);
        while done < total {
            let len = chunk.min(total - done);
            let at = Chunk { first, count, start: done, len };
            let outcomes = self.compute_chunk(points, at, progress).map_err(|f| fail(done, f))?;
            let kept: Vec<Outcome> = self.read_back(&outcomes, len * OUTCOME_BYTES).map_err(|f| fail(done, f))?;
            if kept.iter().any(|o| o.cost < 0.0) {
                return Err(SweepError::CutShort { adapter: self.adapter_name() });
            }
            out.extend_from_slice(&kept);
            done += len;
        }
        Ok(())
    }

    /// Most replicas in one chunk: the outcome buffer and the points it
    /// spans must each fit one storage binding.
    fn chunk_len(&self, count: u64) -> u64 {
        let by_outcomes = self.max_binding.min(CHUNK_BYTES) / OUTCOME_BYTES;
        // A chunk of `n` replicas spans at most `n / count + 2` points.
        let by_points = (self.max_binding / POINT_BYTES).saturating_sub(2).max(1) * count;
        by_outcomes.min(by_points).min(self.chunk_cap).max(1)
    }

    /// Replicas from flat index `start` (at most `avail`) that make up about
    /// one submission's budget of replica-steps, and their replica-steps.
    fn submission_len(&self, points: &[PointParams], count: u64, start: u64, avail: u64) -> (u64, u64) {
        let budget = self.budget.load(Ordering::Relaxed);
        // Never less than a workgroup, nor more than one dispatch can hold.
        let (least, most) = (WORKGROUP.min(avail), avail.min(self.max_groups * self.max_groups * WORKGROUP));
        let (mut n, mut work) = (0u64, 0u64);
        while n < most {
            let at = start + n;
            let cost = u64::from(points[(at / count) as usize].steps.max(1));
            let here = (count - at % count).min(most - n);
            let take = (budget.saturating_sub(work) / cost).max(least.saturating_sub(n)).min(here);
            n += take;
            work += take * cost;
            if take < here {
                break;
            }
        }
        (n, work)
    }

    /// Runs a chunk's replicas into an outcome buffer on the device, in
    /// submissions of about the budget, calling `progress` after each.
    fn compute_chunk(&self, points: &[PointParams], at: Chunk, progress: &mut dyn FnMut(u64)) -> Result<wgpu::Buffer, GpuFault> {
        let Chunk { first, count, start, len } = at;
        let count64 = u64::from(count);
        let p_lo = (start / count64) as usize;
        let p_hi = ((start + len - 1) / count64) as usize;
        let params = self.input("sweep points", bytemuck::cast_slice(&points[p_lo..=p_hi]));
        let outcomes = self.output("sweep outcomes", len * OUTCOME_BYTES);
        let job = self.uniform("sweep job", size_of::<Job>() as u64);
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("sweep"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: outcomes.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: job.as_entire_binding() },
            ],
        });
        let mut pos = 0u64;
        while pos < len {
            let at = start + pos;
            let (n, work) = self.submission_len(points, count64, at, len - pos);
            let (gx, gy) = self.grid(n.div_ceil(WORKGROUP));
            let job_now = Job {
                p0: (at / count64 - p_lo as u64) as u32,
                r0: (at % count64) as u32,
                count,
                first,
                n: n as u32,
                stride_x: (gx * WORKGROUP) as u32,
                out_off: pos as u32,
                pad: 0,
            };
            self.queue.write_buffer(&job, 0, bytemuck::bytes_of(&job_now));
            let began = Instant::now();
            self.dispatch(&self.pipeline, &bind, (gx, gy))?;
            self.adapt(work, began.elapsed());
            pos += n;
            progress(start + pos);
        }
        Ok(outcomes)
    }

    /// A dispatch of `groups` workgroups (x, y) in one submission, waited for.
    fn dispatch(&self, pipeline: &wgpu::ComputePipeline, bind: &wgpu::BindGroup, groups: (u64, u64)) -> Result<(), GpuFault> {
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sweep") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("sweep"), timestamp_writes: None });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(groups.0 as u32, groups.1 as u32, 1);
        }
        self.queue.submit([encoder.finish()]);
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(GpuFault::Poll)?;
        self.check()
    }

    /// Workgroups in x and y for `groups` workgroups, x at most the device's limit.
    fn grid(&self, groups: u64) -> (u64, u64) {
        (groups.min(self.max_groups), groups.div_ceil(self.max_groups))
    }

    /// A storage buffer the kernels read, holding `contents`.
    fn input(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE,
        })
    }

    /// A storage buffer of `size` bytes the kernels write and the host may
    /// copy back; it starts zeroed (wgpu clears new buffers).
    fn output(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer of `size` bytes.
    fn uniform(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies the first `bytes` of `src` to the host.
    fn read_back<T: bytemuck::Pod>(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<T>, GpuFault> {
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sweep readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sweep readback") });
        encoder.copy_buffer_to_buffer(src, 0, &readback, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        readback.slice(..).map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(GpuFault::Poll)?;
        self.check()?;
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(GpuFault::Map(e)),
            Err(_) => return Err(GpuFault::MapTimeout),
        }
        let kept = {
            let view = readback.get_mapped_range(..).map_err(GpuFault::View)?;
            bytemuck::pod_collect_to_vec(&view)
        };
        readback.unmap();
        Ok(kept)
    }

    /// Runs replicas `first..first + count` of every point and adds them to
    /// `tallies` (one per point, their histogram bounds already set), summed
    /// on the device: per chunk only a tile's sums and extremes and each
    /// point's histogram counts come back, never the outcomes. When the
    /// device fails, `tallies` hold every finished chunk and the error's
    /// `done` says how many replicas that is.
    pub fn tally_into(
        &self,
        points: &[PointParams],
        first: u32,
        count: u32,
        tallies: &mut [Tally],
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), SweepError> {
        let count64 = u64::from(count);
        let total = points.len() as u64 * count64;
        let fail = |done: u64, fault: GpuFault| SweepError::Device { done, total, fault };
        self.check().map_err(|f| fail(0, f))?;
        assert_eq!(tallies.len(), points.len(), "one tally per point");
        let chunk = self.chunk_len(count64);
        let mut done = 0u64;
        while done < total {
            let len = tile_aligned(done, chunk.min(total - done), first, count64);
            self.tally_chunk(points, Chunk { first, count, start: done, len }, tallies, progress).map_err(|f| fail(done, f))?;
            if tallies.iter().any(|t| t.cost.min < 0.0) {
                return Err(SweepError::CutShort { adapter: self.adapter_name() });
            }
            done += len;
        }
        Ok(())
    }

    /// One chunk of [`Self::tally_into`]: runs it, sums it on the device and
    /// adds the sums to `tallies` once everything has come back.
    fn tally_chunk(&self, points: &[PointParams], at: Chunk, tallies: &mut [Tally], progress: &mut dyn FnMut(u64)) -> Result<(), GpuFault> {
        let Chunk { first, count, start, len } = at;
        let outcomes = self.compute_chunk(points, at, progress)?;
        let count64 = u64::from(count);
        let (p_lo, p_hi) = ((start / count64) as usize, ((start + len - 1) / count64) as usize);
        // Tiles: runs of one point's replicas cut where the replica index is a
        // multiple of TILE, so a tile's sums never depend on where the chunk
        // (or the shard) began.
        let mut tiles = Vec::new();
        for p in p_lo..=p_hi {
            let (a, b) = ((p as u64 * count64).max(start), ((p as u64 + 1) * count64).min(start + len));
            let mut at = a;
            while at < b {
                let replica = u64::from(first) + at % count64;
                let n = (TILE - replica % TILE).min(b - at);
                tiles.push(Tile { point: (p - p_lo) as u32, start: (at - start) as u32, len: n as u32, pad: 0 });
                at += n;
            }
        }
        let bounds: Vec<PointBounds> = tallies[p_lo..=p_hi]
            .iter()
            .map(|t| PointBounds {
                cost_lo: t.cost.bounds.lo,
                cost_per_unit: t.cost.bounds.per_unit,
                att_lo: t.attainment.bounds.lo,
                att_per_unit: t.attainment.bounds.per_unit,
                slo_target: t.target,
                pad0: 0,
                pad1: 0,
                pad2: 0,
            })
            .collect();
        let tile_buf = self.input("sweep tiles", bytemuck::cast_slice(&tiles));
        let bounds_buf = self.input("sweep bounds", bytemuck::cast_slice(&bounds));
        let partial_bytes = (tiles.len() * size_of::<Partial>()) as u64;
        let hist_bytes = (bounds.len() * 2 * SLOTS * 4) as u64;
        // Output buffers start zeroed, as the histograms must.
        let partial_buf = self.output("sweep partials", partial_bytes);
        let hist_buf = self.output("sweep histograms", hist_bytes);
        let (gx, gy) = self.grid(tiles.len() as u64);
        let reduce = self.uniform("sweep reduce", size_of::<Reduce>() as u64);
        let reduce_now = Reduce { tiles: tiles.len() as u32, stride: gx as u32, pad0: 0, pad1: 0 };
        self.queue.write_buffer(&reduce, 0, bytemuck::bytes_of(&reduce_now));
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("sweep tally"),
            layout: &self.tally.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 1, resource: outcomes.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: tile_buf.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 4, resource: bounds_buf.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 5, resource: partial_buf.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 6, resource: hist_buf.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 7, resource: reduce.as_entire_binding() },
            ],
        });
        self.dispatch(&self.tally, &bind, (gx, gy))?;
        let partials: Vec<Partial> = self.read_back(&partial_buf, partial_bytes)?;
        let counts: Vec<u32> = self.read_back(&hist_buf, hist_bytes)?;
        for (tile, part) in tiles.iter().zip(&partials) {
            tallies[p_lo + tile.point as usize].merge(part);
        }
        for (i, c) in counts.chunks(2 * SLOTS).enumerate() {
            tallies[p_lo + i].merge_counts(c);
        }
        Ok(())
    }

    /// Scales the submission budget towards [`TARGET`] from the time the
    /// last submission of about `steps` replica-steps took.
    fn adapt(&self, steps: u64, took: Duration) {
        if !self.adaptive || steps == 0 {
            return;
        }
        let ratio = (TARGET.as_secs_f64() / took.as_secs_f64().max(1e-6)).clamp(0.25, 4.0);
        let next = (steps as f64 * ratio) as u64;
        self.budget.store(next.clamp(BUDGET_RANGE.0, BUDGET_RANGE.1), Ordering::Relaxed);
    }

    /// The first error the device reported, if any (a lost device stays lost).
    fn check(&self) -> Result<(), GpuFault> {
        if let Some((reason, message)) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(GpuFault::Lost { reason, message });
        }
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.is_empty() { Ok(()) } else { Err(GpuFault::Reported(std::mem::take(&mut *errors))) }
    }

    /// Fixes the replica-steps of every submission (no adapting), so that
    /// tests can force many submissions.
    #[cfg(test)]
    pub(crate) fn set_submission_budget(&mut self, replica_steps: u64) {
        self.budget.store(replica_steps.max(1), Ordering::Relaxed);
        self.adaptive = false;
    }

    /// Caps the replicas of one chunk, so that tests can force many chunks.
    #[cfg(test)]
    pub(crate) fn set_chunk_cap(&mut self, replicas: u64) {
        self.chunk_cap = replicas.max(1);
    }
}

/// The backend tests run on (software allowed), or `None` when no adapter
/// exists and TWIN_SKIP_GPU_TESTS=1 says that is fine; otherwise a panic
/// naming the package to install.
#[cfg(test)]
pub(crate) fn test_backend() -> Option<GpuBackend> {
    match GpuBackend::new(true) {
        Ok(gpu) => Some(gpu),
        Err(e) if std::env::var("TWIN_SKIP_GPU_TESTS").as_deref() == Ok("1") => {
            eprintln!("skipped (TWIN_SKIP_GPU_TESTS=1): {e}");
            None
        }
        Err(e) => panic!("{e} (set TWIN_SKIP_GPU_TESTS=1 to skip GPU tests)"),
    }
}

/// `len` replicas from flat index `start` (point-major, `count` replicas a
/// point from replica `first`), cut back (or, when that leaves none, on) to
/// the nearest end of a tile: a point's end, or a replica index that is a
/// multiple of [`TILE`]. Chunks so cut never split a tile.
fn tile_aligned(start: u64, len: u64, first: u32, count: u64) -> u64 {
    let end = start + len;
    let offset = end % count;
    if offset == 0 {
        return len;
    }
    let point_start = end - offset;
    let replica = u64::from(first) + offset;
    let back = (replica / TILE * TILE).saturating_sub(u64::from(first));
    if point_start + back > start {
        return point_start + back - start;
    }
    let on = (replica.div_ceil(TILE) * TILE - u64::from(first)).min(count);
    point_start + on - start
}

#[cfg(test)]
mod tile_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A cut chunk is never empty, never longer than asked unless asked
        /// for less than a tile, and ends on a tile's end or a point's end.
        #[test]
        fn chunks_end_on_tiles(points in 1u64..5, count in 1u64..5000, first in 0u32..4096, start_frac in 0.0f64..1.0, len in 1u64..9000) {
            let total = points * count;
            let start = ((total as f64 * start_frac) as u64).min(total - 1);
            let len = len.min(total - start);
            let cut = tile_aligned(start, len, first, count);
            prop_assert!(cut > 0);
            prop_assert!(start + cut <= total);
            let end = start + cut;
            let offset = end % count;
            prop_assert!(offset == 0 || (u64::from(first) + offset).is_multiple_of(TILE), "ends inside a tile: {}", end);
            if cut > len {
                // Only when no tile end lies within what was asked for.
                let mut at = start + 1;
                while at <= start + len {
                    let o = at % count;
                    prop_assert!(!(o == 0 || (u64::from(first) + o).is_multiple_of(TILE)));
                    at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu;
    use crate::model::OUTCOME_FIELDS;

    /// Varied points: the autoscaled one; all spot with frequent reclaims,
    /// stock-outs and price jumps, one replica per node; an overloaded fixed
    /// fleet that queues and drops; short steps (Poisson by inversion) with
    /// a daily cycle.
    fn points() -> Vec<PointParams> {
        let a = crate::model::tests::autoscaled();
        let spot = PointParams {
            spot_share: 1.0,
            replicas_per_node: 1.0,
            replicas_min: 4.0,
            replicas_max: 24.0,
            target_concurrency: 4.0,
            rate_calm: 20.0,
            rate_burst: 60.0,
            p_interrupt: 0.05,
            p_stockout: 0.02,
            p_restock: 0.1,
            jump_p: 0.05,
            jump_size: 0.3,
            spot_vol: 2.0,
            spot_max_nodes: 16.0,
            od_max_nodes: 32.0,
            seed: 11,
            ..a
        };
        let overloaded = PointParams {
            mu: 2.0,
            replicas_min: 3.0,
            replicas_max: 3.0,
            target_concurrency: 0.0,
            timeout_s: 30.0,
            diurnal_amp: 0.5,
            seed: 12,
            ..a
        };
        let short =
            PointParams { steps: 400, dt_s: 2.0, rate_calm: 2.0, rate_burst: 9.0, diurnal_amp: 0.8, diurnal_peak_s: 300.0, seed: 13, ..a };
        vec![a, spot, overloaded, short]
    }

    /// The fields of an outcome, by name.
    fn fields(o: &Outcome) -> [(&'static str, f32); OUTCOME_FIELDS] {
        [
            ("cost", o.cost),
            ("list_cost", o.list_cost),
            ("arrived", o.arrived),
            ("met", o.met),
            ("dropped", o.dropped),
            ("interruptions", o.interruptions),
            ("spot_node_hours", o.spot_node_hours),
            ("od_node_hours", o.od_node_hours),
        ]
    }

    /// Tolerance: per point, each field's mean within 1e-3 relative (1e-3
    /// absolute below 1); at least 99% of replicas' costs within 1e-3
    /// relative. Discrete draws (a Poisson inversion, a comparison with a
    /// chance) can flip where the device's `exp`, `log`, `cos` or `pow`
    /// round differently from Rust's, and a flipped replica goes its own way.
    #[test]
    fn gpu_agrees_with_cpu() {
        let Some(gpu) = test_backend() else { return };
        let (points, first, count) = (points(), 5, 300);
        let want = cpu::run(&points, first, count, 0).unwrap();
        let got = gpu.run(&points, first, count, &mut |_| {}).unwrap();
        assert_eq!(got.len(), want.len());
        let mut report = format!("{}:\n", gpu.adapter_name());
        for (i, p) in points.iter().enumerate() {
            let range = i * count as usize..(i + 1) * count as usize;
            let (g, c) = (&got[range.clone()], &want[range]);
            assert!(c.iter().any(|o| o.dropped > 0.0) || i != 2, "point 2 should drop");
            assert!(c.iter().any(|o| o.interruptions > 0.0) || i != 1, "point 1 should be interrupted");
            for f in 0..OUTCOME_FIELDS {
                let mean = |xs: &[Outcome]| xs.iter().map(|o| f64::from(fields(o)[f].1)).sum::<f64>() / xs.len() as f64;
                let (mg, mc) = (mean(g), mean(c));
                let diff = (mg - mc).abs();
                report += &format!("  point {i} {:>15}: cpu {mc:.6e} gpu {mg:.6e} diff {diff:.3e}\n", fields(&c[0])[f].0);
                assert!(diff <= 1e-3 * mc.abs().max(1.0), "point {i} ({p:?}) {}: cpu {mc} gpu {mg}", fields(&c[0])[f].0);
            }
            let rel = |a: f32, b: f32| f64::from((a - b).abs()) / f64::from(b.abs()).max(1e-6);
            let off = g.iter().zip(c).filter(|(g, c)| rel(g.cost, c.cost) > 1e-3).count();
            let worst = g.iter().zip(c).map(|(g, c)| rel(g.cost, c.cost)).fold(0.0, f64::max);
            let exact = g.iter().zip(c).filter(|(g, c)| g == c).count();
            let (mut worst_field, mut worst_name) = (0.0, "");
            for (g, c) in g.iter().zip(c) {
                for ((name, a), (_, b)) in fields(g).into_iter().zip(fields(c)) {
                    let d = f64::from((a - b).abs()) / f64::from(b.abs()).max(1.0);
                    if d > worst_field {
                        (worst_field, worst_name) = (d, name);
                    }
                }
            }
            report += &format!(
                "  point {i}: {exact}/{count} bit-identical, {off} costs off by >1e-3, worst cost {worst:.3e} relative, worst field {worst_name} {worst_field:.3e}\n"
            );
            assert!(off * 100 <= count as usize, "point {i}: {off} of {count} costs off by more than 1e-3");
        }
        eprintln!("{report}");
    }

    /// The device's tally of its own outcomes is the host's tally of them:
    /// counts, misses and every histogram slot the same, sums to f32
    /// rounding; across tiles, submissions, chunks and point boundaries.
    #[test]
    fn the_device_tallies_as_the_host_does() {
        let Some(mut gpu) = test_backend() else { return };
        let (points, first, count) = (points(), 3, 5000);
        gpu.set_submission_budget(1500 * 300);
        gpu.set_chunk_cap(7000);
        let outcomes = gpu.run(&points, first, count, &mut |_| {}).unwrap();
        let mut host: Vec<Tally> = Vec::new();
        let mut device: Vec<Tally> = Vec::new();
        for part in outcomes.chunks(count as usize) {
            let empty = Tally::from_pilot(&part[..100], 0.99);
            let mut t = empty.cleared();
            part.iter().for_each(|o| t.add(o));
            host.push(t);
            device.push(empty);
        }
        let mut calls = 0;
        gpu.tally_into(&points, first, count, &mut device, &mut |_| calls += 1).unwrap();
        assert!(calls > 4);
        for (i, (h, d)) in host.iter().zip(&device).enumerate() {
            assert_eq!((h.n, h.misses), (d.n, d.misses), "point {i}");
            assert_eq!(h.cost.counts, d.cost.counts, "point {i}");
            assert_eq!(h.attainment.counts, d.attainment.counts, "point {i}");
            assert_eq!(
                (h.cost.min, h.cost.max, h.attainment.min, h.attainment.max),
                (d.cost.min, d.cost.max, d.attainment.min, d.attainment.max)
            );
            for f in 0..OUTCOME_FIELDS {
                assert!(
                    (h.sum(f) - d.sum(f)).abs() <= 1e-5 * h.sum(f).abs().max(1.0),
                    "point {i} field {f}: {} against {}",
                    h.sum(f),
                    d.sum(f)
                );
            }
            assert!((h.attainment_sum.get() - d.attainment_sum.get()).abs() <= 1e-5 * h.attainment_sum.get().max(1.0));
            assert!(h.cost.counts.iter().filter(|c| **c > 0).count() > 20, "point {i}: the histogram should spread");
        }
        // Twice on the same device: the same bits.
        let mut again: Vec<Tally> = device.iter().map(Tally::cleared).collect();
        gpu.tally_into(&points, first, count, &mut again, &mut |_| {}).unwrap();
        assert_eq!(again, device);
    }

    /// llvmpipe stops an invocation's loops after 65,535 iterations in all;
    /// a history cut short is an error, never a zero or partial outcome.
    #[test]
    fn a_kernel_cut_short_is_an_error() {
        let Some(gpu) = test_backend() else { return };
        let long = PointParams { steps: 200_000, dt_s: 10.0, ..crate::model::tests::autoscaled() };
        let pilot = [crate::model::run_replica(&long, 0)];
        match gpu.run(&[long], 0, 64, &mut |_| {}) {
            Err(SweepError::CutShort { adapter }) => assert!(gpu.is_software() && adapter == gpu.adapter_name()),
            // A GPU without the limit runs every history whole.
            Ok(v) => assert!(!gpu.is_software() && v.iter().all(|o| o.cost > 0.0 && o.arrived > 0.0)),
            Err(e) => panic!("{e}"),
        }
        let mut t = [Tally::from_pilot(&pilot, 0.99)];
        let r = gpu.tally_into(&[long], 0, 64, &mut t, &mut |_| {});
        assert!(matches!(r, Err(SweepError::CutShort { .. })) || (!gpu.is_software() && r.is_ok()), "{r:?}");
    }

    #[test]
    fn two_runs_are_bit_identical() {
        let Some(gpu) = test_backend() else { return };
        let points = points();
        let a = gpu.run(&points, 0, 200, &mut |_| {}).unwrap();
        let b = gpu.run(&points, 0, 200, &mut |_| {}).unwrap();
        assert!(a.iter().zip(&b).all(|(a, b)| bytemuck::bytes_of(a) == bytemuck::bytes_of(b)));
    }

    #[test]
    fn many_submissions_and_chunks_give_the_same_as_one() {
        let Some(mut gpu) = test_backend() else { return };
        let (points, first, count) = (points(), 7, 250);
        let whole = gpu.run(&points, first, count, &mut |_| {}).unwrap();
        // 137 replicas a submission, 389 a chunk: both cross point boundaries.
        gpu.set_submission_budget(137 * 300);
        gpu.set_chunk_cap(389);
        let mut calls = Vec::new();
        let parts = gpu.run(&points, first, count, &mut |done| calls.push(done)).unwrap();
        assert_eq!(whole, parts);
        assert!(calls.len() > 8, "{calls:?}");
        assert!(calls.windows(2).all(|w| w[0] < w[1]) && calls.last() == Some(&(4 * 250)), "{calls:?}");
    }

    #[test]
    fn a_lost_device_keeps_the_finished_chunks() {
        let Some(mut gpu) = test_backend() else { return };
        let points = points();
        let whole = gpu.run(&points, 0, 200, &mut |_| {}).unwrap();
        gpu.set_chunk_cap(300);
        gpu.set_submission_budget(100 * 300);
        let device = gpu.device.clone();
        let mut out = Vec::new();
        let err = gpu
            .run_into(
                &points,
                0,
                200,
                &mut |done| {
                    if done >= 450 {
                        device.destroy()
                    }
                },
                &mut out,
            )
            .unwrap_err();
        // The first chunk (300) finished; the device died within the second.
        match err {
            SweepError::Device { done, total, ref fault } => {
                eprintln!("{err}");
                assert!(!fault.to_string().is_empty(), "{fault:?}");
                assert_eq!((done, total), (300, 800));
            }
            e => panic!("{e}"),
        }
        // A lost device stays lost.
        assert!(matches!(gpu.run(&points, 0, 1, &mut |_| {}), Err(SweepError::Device { done: 0, total: 4, .. })));
        assert!(out == whole[..300], "the finished chunk was not kept as it was");
    }

    /// The faults read as the messages they replaced.
    #[test]
    fn faults_say_what_they_said_as_strings() {
        let lost = |message: &str| GpuFault::Lost { reason: wgpu::DeviceLostReason::Destroyed, message: message.into() }.to_string();
        assert_eq!(lost(""), "device lost (Destroyed)");
        assert_eq!(lost("gone"), "device lost (Destroyed): gone");
        assert_eq!(GpuFault::Reported(vec!["a".into(), "b".into()]).to_string(), "a; b");
        assert_eq!(GpuFault::Poll(wgpu::PollError::Timeout).to_string(), wgpu::PollError::Timeout.to_string());
        assert_eq!(GpuFault::Map(wgpu::BufferAsyncError).to_string(), format!("reading results back failed: {}", wgpu::BufferAsyncError));
        assert_eq!(GpuFault::MapTimeout.to_string(), "reading results back never finished");
        let e = SweepError::Device { done: 300, total: 800, fault: GpuFault::Reported(vec!["x".into()]) };
        assert_eq!(e.to_string(), "the GPU failed after 300 of 800 replicas: x");
    }

    #[test]
    fn software_is_used_only_when_allowed() {
        let Some(gpu) = test_backend() else { return };
        match GpuBackend::new(false) {
            Ok(hardware) => assert!(!hardware.is_software()),
            Err(SweepError::NoAdapter(m)) => assert!(gpu.is_software() && m.contains(&gpu.adapter_name()), "{m}"),
            Err(e) => panic!("{e}"),
        }
        // One backend can serve several threads.
        fn shared<T: Send + Sync>(_: &T) {}
        shared(&gpu);
    }

    #[test]
    fn empty_sweeps_are_empty() {
        let Some(gpu) = test_backend() else { return };
        assert!(gpu.run(&[], 0, 10, &mut |_| {}).unwrap().is_empty());
        assert!(gpu.run(&points(), 0, 0, &mut |_| {}).unwrap().is_empty());
    }
}
