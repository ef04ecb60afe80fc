//! The OpenCost-style cost of the session: what the watched nodes cost,
//! what their pods were allocated, what stood idle, and what the same pods
//! would have been allocated where Twin would have placed them.
//!
//! Costs accrue at the rates the cluster has between two ticks of the
//! session's clock ([`CostLedger::accrue`]): a node's price per hour for
//! every hour it is watched, a pod's share of its node (`price ×
//! gpus_requested / node_gpus`) for every hour it is bound. Idle cost is
//! the nodes' cost the pods leave unallocated, as OpenCost reports it.
//! Twin's counterfactual replaces, for each pod Twin would have placed
//! elsewhere, the pod's share of its real node by its share of Twin's node,
//! from the moment of the binding until the pod is gone.

use serde::Serialize;

/// Dollars accrued so far (in the price table's currency).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostLedger {
    /// Hours of wall clock accrued.
    pub hours: f64,
    /// What the watched nodes with a known price cost.
    pub nodes_dollars: f64,
    /// What the pods holding accelerators were allocated of it.
    pub allocated_dollars: f64,
    /// What the nodes cost beyond their pods' allocations (never below 0).
    pub idle_dollars: f64,
    /// What the pods would have been allocated on the nodes Twin would
    /// have chosen.
    pub twin_dollars: f64,
    /// `allocated_dollars - twin_dollars`: what Twin's placements would
    /// have saved (negative: cost more).
    pub saving_dollars: f64,
}

/// Rates per hour at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// The nodes' prices.
    pub nodes: f64,
    /// The pods' allocations.
    pub allocated: f64,
    /// The pods' allocations where Twin would have placed them.
    pub twin: f64,
}

impl CostLedger {
    /// Accrues `dt_ns` nanoseconds at `rates` (a negative span accrues nothing).
    pub fn accrue(&mut self, dt_ns: i64, rates: Rates) {
        if dt_ns <= 0 {
            return;
        }
        let h = dt_ns as f64 / 3.6e12;
        self.hours += h;
        self.nodes_dollars += rates.nodes * h;
        self.allocated_dollars += rates.allocated * h;
        self.idle_dollars += (rates.nodes - rates.allocated).max(0.0) * h;
        self.twin_dollars += rates.twin * h;
        self.saving_dollars = self.allocated_dollars - self.twin_dollars;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_accrues_the_rates_and_idle_is_what_pods_leave() {
        let mut l = CostLedger::default();
        let r = Rates { nodes: 100.0, allocated: 60.0, twin: 45.0 };
        l.accrue(1_800_000_000_000, r);
        l.accrue(1_800_000_000_000, r);
        l.accrue(-5, r);
        assert!((l.hours - 1.0).abs() < 1e-12);
        assert!((l.nodes_dollars - 100.0).abs() < 1e-9 && (l.allocated_dollars - 60.0).abs() < 1e-9);
        assert!((l.idle_dollars - 40.0).abs() < 1e-9 && (l.twin_dollars - 45.0).abs() < 1e-9);
        assert!((l.saving_dollars - 15.0).abs() < 1e-9);
        assert!((l.nodes_dollars - l.allocated_dollars - l.idle_dollars).abs() < 1e-9, "the ledger sums");
    }
}
