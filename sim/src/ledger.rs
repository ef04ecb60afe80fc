//! The cost ledger: every node's cost, booked to the workloads that held its
//! accelerators (OpenCost-style), with the unheld part shown as idle.
//!
//! Money is exact. A price is an integer number of billionths of the currency
//! per accelerator-hour; a cost is price × accelerators × nanoseconds, an
//! integer in [`Money`] units (10⁻⁹ currency · ns / h) held in an `i128`. Sums
//! of parts therefore equal totals to the last unit, whatever the order.
//!
//! A node's cost is booked whenever what it costs per second is about to
//! change (an allocation, a release, a price change, a period boundary, its
//! termination): [`Ledger::settle_node`] books the time since the last booking
//! at the rates that held over it. Energy is booked the same way for the idle
//! draw and as it is spent for the extra draw of work.

use crate::fleet::{Node, Pool};
use crate::ids::{NodeId, PoolId, WorkloadId};
use crate::time::{NANOS_PER_SEC, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::ops::{Add, AddAssign};

/// Money units per unit of currency: 10⁹ (billionths) × 3.6·10¹² (ns per hour).
pub const UNITS_PER_CURRENCY: f64 = 1e9 * 3.6e12;

/// Milliwatt-nanoseconds per kilowatt-hour.
pub const MWNS_PER_KWH: f64 = 3.6e18;

/// An exact amount of money, in units of 10⁻⁹ currency · ns / h.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// The cost of `gpus` accelerators for `dt` at `units_per_gpu_hour`.
    #[inline]
    pub fn of(units_per_gpu_hour: i64, gpus: u32, dt: SimDuration) -> Money {
        Money(i128::from(units_per_gpu_hour) * i128::from(gpus) * i128::from(dt.as_nanos()))
    }

    /// In units of the currency, for reports.
    pub fn to_currency(self) -> f64 {
        self.0 as f64 / UNITS_PER_CURRENCY
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 += o.0;
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// What one owner (a workload, or idle capacity) spent in one pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Capacity cost at the pool's price.
    pub compute: Money,
    /// Energy billed on top (on-premises pools only).
    pub energy_cost: Money,
    /// The same accelerator time at the on-demand list price: the counterfactual
    /// behind savings figures.
    pub list: Money,
    /// Accelerator-nanoseconds.
    pub gpu_ns: u128,
    /// Energy drawn, in milliwatt-nanoseconds (facility overhead not included).
    pub energy_mwns: u128,
}

impl Account {
    /// Capacity plus energy.
    pub fn total(&self) -> Money {
        self.compute + self.energy_cost
    }

    /// Energy in kWh.
    pub fn energy_kwh(&self) -> f64 {
        self.energy_mwns as f64 / MWNS_PER_KWH
    }

    /// Accelerator-hours.
    pub fn gpu_hours(&self) -> f64 {
        self.gpu_ns as f64 / 3.6e12
    }
}

impl AddAssign for Account {
    fn add_assign(&mut self, o: Account) {
        self.compute += o.compute;
        self.energy_cost += o.energy_cost;
        self.list += o.list;
        self.gpu_ns += o.gpu_ns;
        self.energy_mwns += o.energy_mwns;
    }
}

/// What a recorded node did since its last booking, from its replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedUse {
    /// Who the busy time is billed to.
    pub owner: WorkloadId,
    /// Accelerator-nanoseconds at or above the busy threshold.
    pub busy_gpu_ns: u128,
    /// Energy drawn while busy, mW·ns.
    pub busy_energy_mwns: u128,
    /// Energy drawn by the accelerators while idle or unobserved, mW·ns (the host's draw is added).
    pub idle_energy_mwns: u128,
}

/// One line of the exported ledger: one owner on one node in one charge period.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerRow {
    /// Start of the charge period.
    pub period_start: SimTime,
    /// End of the charge period.
    pub period_end: SimTime,
    /// The node.
    pub node: NodeId,
    /// Its pool.
    pub pool: PoolId,
    /// The workload billed, or `None` for idle capacity.
    pub workload: Option<WorkloadId>,
    /// What was spent.
    pub account: Account,
}

/// Every booking of a run, summed by owner and pool, and by charge period.
#[derive(Clone, Debug)]
pub struct Ledger {
    pools: usize,
    /// `[owner slot][pool]`; slot 0 is idle, slot w + 1 is workload w.
    accounts: Vec<Vec<Account>>,
    period: SimDuration,
    period_start: SimTime,
    open: BTreeMap<(NodeId, u32), (PoolId, Account)>,
    rows: Vec<LedgerRow>,
    keep_rows: bool,
}

impl Ledger {
    /// A ledger for `pools` pools that closes charge periods of `period`;
    /// `keep_rows` keeps the per-period lines for export.
    pub fn new(pools: usize, period: SimDuration, keep_rows: bool) -> Ledger {
        Ledger {
            pools,
            accounts: vec![vec![Account::default(); pools]],
            period,
            period_start: SimTime::ZERO,
            open: BTreeMap::new(),
            rows: Vec::new(),
            keep_rows,
        }
    }

    /// Length of one charge period.
    pub fn period(&self) -> SimDuration {
        self.period
    }

    /// Books `account` to `owner` (or idle) on `node` in `pool`.
    pub fn book(&mut self, node: NodeId, pool: PoolId, owner: Option<WorkloadId>, account: Account) {
        let slot = owner.map_or(0, |w| w.0 + 1);
        while self.accounts.len() <= slot as usize {
            self.accounts.push(vec![Account::default(); self.pools]);
        }
        self.accounts[slot as usize][pool.index()] += account;
        if self.keep_rows {
            self.open.entry((node, slot)).or_insert((pool, Account::default())).1 += account;
        }
    }

    /// Books the cost and idle energy of `node` from its last booking to `now`.
    pub fn settle_node(&mut self, node: &mut Node, pool: &mut Pool, now: SimTime) {
        let dt = now.saturating_since(node.settled_to);
        node.settled_to = node.settled_to.max(now);
        if dt.is_zero() || !node.is_live() {
            return;
        }
        let gpu_idle_mw = (pool.accelerator.idle_watts * 1e3).round() as u128;
        let host_mw = (pool.node_type.host_watts * 1e3).round() as u128;
        let dt_ns = u128::from(dt.as_nanos());
        let mut allocated = 0u32;
        for a in &node.allocs {
            allocated += a.gpus;
            let energy = gpu_idle_mw * u128::from(a.gpus) * dt_ns;
            let acct = self.capacity_account(pool, a.gpus, dt, energy);
            self.book(node.id, pool.id, Some(a.workload), acct);
        }
        let idle_gpus = node.gpus.saturating_sub(allocated);
        let idle_energy = (gpu_idle_mw * u128::from(idle_gpus) + host_mw) * dt_ns;
        let acct = self.capacity_account(pool, idle_gpus, dt, idle_energy);
        self.book(node.id, pool.id, None, acct);
        pool.stats.gpu_ns += u128::from(node.gpus) * dt_ns;
        pool.stats.allocated_gpu_ns += u128::from(allocated) * dt_ns;
    }

    fn capacity_account(&self, pool: &Pool, gpus: u32, dt: SimDuration, energy_mwns: u128) -> Account {
        Account {
            compute: Money::of(pool.price_units, gpus, dt),
            energy_cost: energy_cost(pool, energy_mwns),
            list: Money::of(pool.list_units, gpus, dt),
            gpu_ns: u128::from(gpus) * u128::from(dt.as_nanos()),
            energy_mwns,
        }
    }

    /// Books a recorded node from its last booking to `now`: `busy_gpu_ns` of
    /// accelerator time to `owner` with the energy drawn while busy, the rest
    /// of its accelerators' time as idle with the rest of the energy and the
    /// host's draw. The recording, not allocations, says what was busy.
    pub fn settle_recorded_node(&mut self, node: &mut Node, pool: &mut Pool, now: SimTime, used: RecordedUse) {
        let RecordedUse { owner, busy_gpu_ns, busy_energy_mwns, idle_energy_mwns } = used;
        let dt = now.saturating_since(node.settled_to);
        node.settled_to = node.settled_to.max(now);
        if dt.is_zero() || !node.is_live() {
            return;
        }
        let dt_ns = u128::from(dt.as_nanos());
        let all_ns = u128::from(node.gpus) * dt_ns;
        let busy = busy_gpu_ns.min(all_ns);
        let host_mw = (pool.node_type.host_watts * 1e3).round() as u128;
        let part = |gpu_ns: u128, energy_mwns: u128| Account {
            compute: Money(i128::from(pool.price_units) * gpu_ns as i128),
            energy_cost: energy_cost(pool, energy_mwns),
            list: Money(i128::from(pool.list_units) * gpu_ns as i128),
            gpu_ns,
            energy_mwns,
        };
        if busy > 0 || busy_energy_mwns > 0 {
            let acct = part(busy, busy_energy_mwns);
            self.book(node.id, pool.id, Some(owner), acct);
        }
        let acct = part(all_ns - busy, idle_energy_mwns + host_mw * dt_ns);
        self.book(node.id, pool.id, None, acct);
        pool.stats.gpu_ns += all_ns;
        pool.stats.allocated_gpu_ns += busy;
        pool.stats.busy_gpu_secs += busy as f64 / 1e9;
    }

    /// Books energy spent doing work (above idle) by `owner` on `node`.
    pub fn book_work_energy(&mut self, node: NodeId, pool: &Pool, owner: WorkloadId, energy_mwns: u128) {
        if energy_mwns == 0 {
            return;
        }
        let acct = Account { energy_cost: energy_cost(pool, energy_mwns), energy_mwns, ..Account::default() };
        self.book(node, pool.id, Some(owner), acct);
    }

    /// Ends a node's billing at `now`: books up to `now`, then the rest of its
    /// minimum charge and the rounding to whole seconds, as idle.
    pub fn terminate_node(&mut self, node: &mut Node, pool: &mut Pool, now: SimTime, minimum: SimDuration) {
        self.settle_node(node, pool, now);
        let lifetime = now.saturating_since(node.launched).as_nanos();
        let whole_secs = lifetime.div_ceil(NANOS_PER_SEC) * NANOS_PER_SEC;
        let floor = if pool.capacity.is_committed() { 0 } else { minimum.as_nanos() };
        let extra = SimDuration(whole_secs.max(floor) - lifetime);
        if !extra.is_zero() {
            let acct = Account { energy_mwns: 0, energy_cost: Money::ZERO, ..self.capacity_account(pool, node.gpus, extra, 0) };
            self.book(node.id, pool.id, None, acct);
            pool.stats.gpu_ns += u128::from(node.gpus) * u128::from(extra.as_nanos());
        }
        node.terminated = Some(now);
    }

    /// Closes the charge period ending at `now`: its lines move to the export.
    /// The caller has settled every live node first.
    pub fn close_period(&mut self, now: SimTime) {
        let start = self.period_start;
        for ((node, slot), (pool, account)) in std::mem::take(&mut self.open) {
            let workload = if slot == 0 { None } else { Some(WorkloadId(slot - 1)) };
            self.rows.push(LedgerRow { period_start: start, period_end: now, node, pool, workload, account });
        }
        self.period_start = now;
    }

    /// The total of one owner (or idle) in one pool.
    pub fn account(&self, owner: Option<WorkloadId>, pool: PoolId) -> Account {
        let slot = owner.map_or(0, |w| w.0 as usize + 1);
        self.accounts.get(slot).map_or_else(Account::default, |a| a[pool.index()])
    }

    /// The total of one owner (or idle) over all pools.
    pub fn owner_total(&self, owner: Option<WorkloadId>) -> Account {
        let mut t = Account::default();
        for p in 0..self.pools {
            t += self.account(owner, PoolId(p as u32));
        }
        t
    }

    /// The total of one pool over all owners.
    pub fn pool_total(&self, pool: PoolId) -> Account {
        let mut t = Account::default();
        for slot in &self.accounts {
            t += slot[pool.index()];
        }
        t
    }

    /// The grand total.
    pub fn total(&self) -> Account {
        let mut t = Account::default();
        for slot in &self.accounts {
            for a in slot {
                t += *a;
            }
        }
        t
    }

    /// The exported lines of closed periods.
    pub fn rows(&self) -> &[LedgerRow] {
        &self.rows
    }

    /// Hands over the exported lines.
    pub fn take_rows(&mut self) -> Vec<LedgerRow> {
        std::mem::take(&mut self.rows)
    }
}

/// The price of `energy_mwns` drawn in `pool`, with its PUE (zero where energy is in the price).
pub(crate) fn energy_cost(pool: &Pool, energy_mwns: u128) -> Money {
    if !pool.bills_energy || energy_mwns == 0 {
        return Money::ZERO;
    }
    // currency = E / 3.6e18 × PUE × price; units = currency × 3.6e21.
    Money((energy_mwns as f64 * pool.pue * pool.energy_price_per_kwh * 1e3).round() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_for_a_fixed_price() {
        // 6.88 per GPU-hour (p5.48xlarge / 8) for 8 GPUs over 90 minutes = 82.56.
        let m = Money::of(6_880_000_000, 8, SimDuration::from_secs(5_400));
        assert_eq!(m.0, 6_880_000_000i128 * 8 * 5_400_000_000_000);
        assert!((m.to_currency() - 82.56).abs() < 1e-12);
    }
}
