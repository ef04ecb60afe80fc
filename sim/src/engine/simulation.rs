//! The simulation loop: a [`Model`] fed by an [`EventQueue`] under a [`Clock`].

use super::clock::{AsFastAsPossible, Clock};
use super::queue::{EventKey, EventQueue};
use crate::time::{SimDuration, SimTime};

/// Something the engine can drive: it handles one event at a time and may
/// schedule or cancel further events through the [`Context`].
pub trait Model {
    /// The events this model reacts to.
    type Event;

    /// Handles `event`, which is due at `ctx.now()`.
    fn handle(&mut self, event: Self::Event, ctx: &mut Context<'_, Self::Event>);
}

/// A model's view of the engine while it handles an event.
pub struct Context<'a, E> {
    now: SimTime,
    queue: &'a mut EventQueue<E>,
}

impl<'a, E> Context<'a, E> {
    /// Makes a context over `queue` at time `now`: the way to drive a model's
    /// handlers directly, outside a [`Simulation`] (set-up code and tests).
    pub fn new(now: SimTime, queue: &'a mut EventQueue<E>) -> Self {
        Context { now, queue }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) -> EventKey {
        debug_assert!(time >= self.now, "event scheduled in the past");
        self.queue.schedule(time.max(self.now), event)
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventKey {
        self.queue.schedule(self.now.saturating_add(delay), event)
    }

    /// Cancels a pending event.
    #[inline]
    pub fn cancel(&mut self, key: EventKey) {
        self.queue.cancel(key)
    }
}

/// What stopped a call to [`Simulation::run_until`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every event due up to the target time was handled; time is now the target.
    ReachedTarget,
    /// The queue ran dry before the target; time is now the target.
    QueueEmpty,
}

/// A model together with its event queue and clock: the event engine.
pub struct Simulation<M: Model, C: Clock = AsFastAsPossible> {
    model: M,
    queue: EventQueue<M::Event>,
    clock: C,
    now: SimTime,
    handled: u64,
}

impl<M: Model> Simulation<M, AsFastAsPossible> {
    /// A simulation at time zero that runs as fast as possible.
    pub fn new(model: M) -> Self {
        Self::with_clock(model, AsFastAsPossible)
    }
}

impl<M: Model, C: Clock> Simulation<M, C> {
    /// A simulation at time zero under the given clock.
    pub fn with_clock(model: M, clock: C) -> Self {
        Simulation { model, queue: EventQueue::with_capacity(1024), clock, now: SimTime::ZERO, handled: 0 }
    }

    /// Schedules an event from outside the model (initial events, injections).
    pub fn schedule_at(&mut self, time: SimTime, event: M::Event) -> EventKey {
        self.queue.schedule(time.max(self.now), event)
    }

    /// Cancels a pending event.
    pub fn cancel(&mut self, key: EventKey) {
        self.queue.cancel(key)
    }

    /// Lets a closure act on the model with a scheduling context at the
    /// current time; the way to set up a model's first events.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut M, &mut Context<'_, M::Event>) -> R) -> R {
        let mut ctx = Context { now: self.now, queue: &mut self.queue };
        f(&mut self.model, &mut ctx)
    }

    /// Lets the clock reach `t`, then hands the event to the model.
    #[inline]
    fn dispatch(&mut self, t: SimTime, event: M::Event) {
        self.clock.advance_to(t);
        self.now = t;
        self.handled += 1;
        let mut ctx = Context { now: t, queue: &mut self.queue };
        self.model.handle(event, &mut ctx);
    }

    /// Handles the next event, if any, and returns its time.
    #[inline]
    pub fn step(&mut self) -> Option<SimTime> {
        let (t, event) = self.queue.pop()?;
        self.dispatch(t, event);
        Some(t)
    }

    /// Handles every event due at or before `target`, then sets the time to
    /// `target`. Events after `target` stay queued.
    pub fn run_until(&mut self, target: SimTime) -> Stop {
        while let Some((t, event)) = self.queue.pop_until(target) {
            self.dispatch(t, event);
        }
        self.clock.advance_to(target);
        self.now = self.now.max(target);
        if self.queue.is_empty() { Stop::QueueEmpty } else { Stop::ReachedTarget }
    }

    /// The time of the next live event, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.handled
    }

    /// Live events still pending.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The model, to read.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, to change between steps.
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Ends the simulation and hands back the model.
    pub fn into_model(self) -> M {
        self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts down: each event schedules the next one a second later.
    struct Countdown {
        seen: Vec<(SimTime, u32)>,
        timer: Option<EventKey>,
    }

    enum Ev {
        Tick(u32),
        Alarm,
    }

    impl Model for Countdown {
        type Event = Ev;
        fn handle(&mut self, event: Ev, ctx: &mut Context<'_, Ev>) {
            match event {
                Ev::Tick(n) => {
                    self.seen.push((ctx.now(), n));
                    if n > 0 {
                        ctx.schedule_in(SimDuration::from_secs(1), Ev::Tick(n - 1));
                    } else if let Some(k) = self.timer.take() {
                        ctx.cancel(k);
                    }
                }
                Ev::Alarm => self.seen.push((ctx.now(), 99)),
            }
        }
    }

    /// A clock that records the times the engine asked it to reach, as a
    /// wall-clock pacer would see them.
    struct Recorder(Vec<SimTime>);

    impl Clock for Recorder {
        fn advance_to(&mut self, t: SimTime) {
            self.0.push(t);
        }
    }

    #[test]
    fn the_clock_is_asked_for_each_event_time_in_order() {
        let mut sim = Simulation::with_clock(Countdown { seen: vec![], timer: None }, Recorder(vec![]));
        sim.schedule_at(SimTime::ZERO, Ev::Tick(2));
        sim.run_until(SimTime(5_000_000_000));
        assert_eq!(sim.clock.0, vec![SimTime(0), SimTime(1_000_000_000), SimTime(2_000_000_000), SimTime(5_000_000_000)]);
    }

    #[test]
    fn run_until_stops_at_the_target_and_cancels_lazily() {
        let mut sim = Simulation::new(Countdown { seen: vec![], timer: None });
        sim.schedule_at(SimTime::ZERO, Ev::Tick(3));
        let k = sim.schedule_at(SimTime(10 * 1_000_000_000), Ev::Alarm);
        sim.model_mut().timer = Some(k);
        assert_eq!(sim.run_until(SimTime(1_500_000_000)), Stop::ReachedTarget);
        assert_eq!(sim.model().seen.len(), 2);
        assert_eq!(sim.now(), SimTime(1_500_000_000));
        assert_eq!(sim.run_until(SimTime(100 * 1_000_000_000)), Stop::QueueEmpty);
        let ticks: Vec<u32> = sim.model().seen.iter().map(|s| s.1).collect();
        assert_eq!(ticks, vec![3, 2, 1, 0], "the alarm was cancelled by the last tick");
        assert_eq!(sim.events_handled(), 4);
    }
}
