//! Training: gangs that start together, checkpoint on a schedule, roll back to
//! their last checkpoint when a member's node goes, and finish.

use super::build::job_speed;
use super::{Event, Fabric};
use crate::engine::Context;
use crate::fleet::Owner;
use crate::ids::JobId;
use crate::time::{SimDuration, SimTime};
use crate::workload::JobState;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Accelerator activity while a job writes a checkpoint.
const CHECKPOINT_ACTIVITY: f64 = 0.2;

impl Fabric {
    pub(super) fn on_job_submit(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let job = &mut self.jobs[j.index()];
        if job.state != JobState::Future {
            return;
        }
        if !self.admit_job(j, ctx) {
            self.jobs[j.index()].state = JobState::Rejected;
            return;
        }
        let job = &mut self.jobs[j.index()];
        job.state = JobState::Queued;
        job.queued_since = ctx.now();
        self.pending.push_back(Owner::Job(j));
        self.place_pending(ctx);
    }

    /// A placed gang starts (or resumes from its checkpoint).
    pub(super) fn start_job(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let (node, _) = self.jobs[j.index()].placement[0];
        let pool = self.nodes[node.index()].pool;
        self.jobs[j.index()].last_pool = Some(pool);
        let accel = &self.pools[pool.index()].accelerator;
        let job = &mut self.jobs[j.index()];
        let speed = job_speed(&job.speed, accel);
        job.rate = f64::from(job.gpus) * speed;
        job.state = JobState::Running;
        job.first_start.get_or_insert(now);
        job.queued_ns += now.saturating_since(job.queued_since).as_nanos();
        job.segment_start = now;
        self.schedule_job_timer(j, ctx);
    }

    /// Schedules the running job's next checkpoint or its finish, whichever is first.
    fn schedule_job_timer(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let job = &mut self.jobs[j.index()];
        let remaining = (job.work - job.progress).max(0.0);
        let to_finish = SimDuration::from_secs_f64(remaining / job.rate.max(1e-12));
        let (delay, event) = if !job.checkpoints || to_finish <= job.checkpoint_interval {
            (to_finish, Event::JobFinish(j))
        } else {
            (job.checkpoint_interval, Event::JobCheckpoint(j))
        };
        job.timer = Some(ctx.schedule_in(delay, event));
    }

    /// Books the compute (or checkpoint) segment of a job up to `now`.
    pub(super) fn account_job(&mut self, j: JobId, now: SimTime) {
        let job = &mut self.jobs[j.index()];
        let dur = now.saturating_since(job.segment_start);
        let activity = match job.state {
            JobState::Running => {
                job.progress = job.progress_at(now);
                job.activity
            }
            JobState::Checkpointing => CHECKPOINT_ACTIVITY,
            _ => return,
        };
        job.segment_start = now;
        if dur.is_zero() {
            return;
        }
        let workload = job.workload;
        for &(node, gpus) in &job.placement {
            let pool = &mut self.pools[self.nodes[node.index()].pool.index()];
            if job.state == JobState::Running {
                pool.stats.busy_gpu_secs += dur.as_secs_f64() * f64::from(gpus);
            }
            let extra_mw = ((pool.accelerator.max_watts - pool.accelerator.idle_watts) * activity * 1e3 * f64::from(gpus)).round() as u128;
            self.ledger.book_work_energy(node, pool, workload, extra_mw * u128::from(dur.as_nanos()));
        }
    }

    pub(super) fn on_job_checkpoint(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.jobs[j.index()].timer = None;
        if self.jobs[j.index()].state != JobState::Running {
            return;
        }
        self.begin_checkpoint(j, now, ctx);
    }

    fn begin_checkpoint(&mut self, j: JobId, now: SimTime, ctx: &mut Context<'_, Event>) {
        self.account_job(j, now);
        let job = &mut self.jobs[j.index()];
        job.state = JobState::Checkpointing;
        job.segment_start = now;
        job.timer = Some(ctx.schedule_in(job.checkpoint_cost, Event::JobCheckpointDone(j)));
    }

    pub(super) fn on_job_checkpoint_done(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.jobs[j.index()].timer = None;
        if self.jobs[j.index()].state != JobState::Checkpointing {
            return;
        }
        self.account_job(j, now);
        let job = &mut self.jobs[j.index()];
        job.saved = job.progress;
        if job.release_after_checkpoint {
            // Saved within the notice: give the gang back and queue again, losing nothing.
            job.release_after_checkpoint = false;
            job.preemptions += 1;
            self.release_gang(j, ctx);
            self.requeue_job(j, now);
            self.place_pending(ctx);
        } else {
            job.state = JobState::Running;
            job.segment_start = now;
            self.schedule_job_timer(j, ctx);
        }
    }

    pub(super) fn on_job_finish(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        self.jobs[j.index()].timer = None;
        if self.jobs[j.index()].state != JobState::Running {
            return;
        }
        self.account_job(j, now);
        let job = &mut self.jobs[j.index()];
        job.progress = job.work;
        job.saved = job.work;
        job.state = JobState::Finished;
        job.finished = Some(now);
        self.release_gang(j, ctx);
        self.place_pending(ctx);
    }

    /// A spot notice reached one of the gang's nodes: checkpoint now if that
    /// is allowed and fits in the notice, then leave; otherwise run on and
    /// lose the work since the last checkpoint at the reclaim.
    pub(super) fn job_on_notice(&mut self, j: JobId, notice: SimDuration, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let job = &mut self.jobs[j.index()];
        if !job.checkpoints || !job.checkpoint_on_notice || job.checkpoint_cost > notice {
            return;
        }
        match job.state {
            JobState::Running => {
                if let Some(k) = job.timer.take() {
                    ctx.cancel(k);
                }
                job.release_after_checkpoint = true;
                self.begin_checkpoint(j, now, ctx);
            }
            JobState::Checkpointing => job.release_after_checkpoint = true,
            _ => {}
        }
    }

    /// The gang lost a node: roll back to the last checkpoint and queue again.
    pub(super) fn preempt_job(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        if !matches!(self.jobs[j.index()].state, JobState::Running | JobState::Checkpointing) {
            return;
        }
        self.account_job(j, now);
        let job = &mut self.jobs[j.index()];
        if let Some(k) = job.timer.take() {
            ctx.cancel(k);
        }
        job.lost_work += (job.progress - job.saved).max(0.0);
        job.progress = job.saved;
        job.preemptions += 1;
        job.release_after_checkpoint = false;
        self.release_gang(j, ctx);
        self.requeue_job(j, now);
    }

    fn requeue_job(&mut self, j: JobId, now: SimTime) {
        let job = &mut self.jobs[j.index()];
        job.state = JobState::Queued;
        job.queued_since = now;
        job.rate = 0.0;
        // Work that was running goes back ahead of newer work.
        self.pending.push_front(Owner::Job(j));
    }

    fn release_gang(&mut self, j: JobId, ctx: &mut Context<'_, Event>) {
        let placement = std::mem::take(&mut self.jobs[j.index()].placement);
        for (node, _) in placement {
            self.release(node, Owner::Job(j), ctx);
        }
    }

    /// Schedules a stream's next job after `now`, if it has one.
    pub(super) fn schedule_stream(&mut self, k: usize, now: SimTime, ctx: &mut Context<'_, Event>) {
        let s = &mut self.streams[k];
        let rate = s.spec.jobs_per_hour;
        if s.made >= s.max_jobs || !(rate > 0.0) {
            return;
        }
        let u: f64 = s.rng.random();
        let wait = SimDuration::from_secs_f64(-(1.0 - u).ln() / rate * 3_600.0);
        let at = now + wait;
        if at < s.stop {
            ctx.schedule_at(at, Event::StreamNext(k as u32));
        }
    }

    pub(super) fn on_stream_next(&mut self, k: u32, ctx: &mut Context<'_, Event>) {
        let now = ctx.now();
        let k = k as usize;
        let s = &mut self.streams[k];
        let gpus = s.spec.gpus[s.rng.random_range(0..s.spec.gpus.len())];
        let z: f64 = StandardNormal.sample(&mut s.rng);
        let work = s.spec.work_gpu_hours.median * (s.spec.work_gpu_hours.sigma * z).exp();
        let id = self.add_stream_job(k, gpus, work, now);
        self.streams[k].made += 1;
        self.schedule_stream(k, now, ctx);
        self.on_job_submit(id, ctx);
    }
}
