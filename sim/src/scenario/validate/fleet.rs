//! Checks of the pools: node types, sizes, how capacity is bought and what it costs.

use super::checker::Checker;
use super::market::{check_interruption, check_price, check_stockouts};
use super::telemetry::check_telemetry;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{CapacityType, PoolSpec, ScenarioSpec};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// What the workload checks need to know of each pool.
pub(super) struct PoolFacts {
    /// GPUs per node, if the node type resolved.
    pub(super) per_node: Option<u32>,
    /// The most nodes the pool can have.
    pub(super) max_nodes: u32,
    /// Accelerator memory in GB, if resolved.
    pub(super) memory_gb: Option<f64>,
    /// Accelerator name, if resolved.
    pub(super) accelerator: Option<String>,
    /// Whether a recording drives it (no workload may run there).
    pub(super) recorded: bool,
    /// A node's vCPUs and memory in MiB, if the node type resolved.
    pub(super) node_cpu_mem: Option<(u32, u32)>,
}

/// Checks `[[pools]]`; returns what the workload checks need of each pool, by name.
pub(super) fn check_pools(c: &mut Checker<'_>, spec: &ScenarioSpec) -> BTreeMap<String, PoolFacts> {
    let mut facts = BTreeMap::new();
    if spec.pools.is_empty() {
        c.report(
            ErrorKind::MissingField,
            FieldPath::root().key("pools"),
            "the fleet has no pools",
            Some("add at least one `[[pools]]` table".into()),
        );
    }
    for (i, pool) in spec.pools.iter().enumerate() {
        let p = FieldPath::root().key("pools").index(i);
        if facts.contains_key(&pool.name) {
            c.report(
                ErrorKind::Duplicate,
                p.key("name"),
                format!("a second pool is called `{}`", pool.name),
                Some("pool names must be unique".into()),
            );
        }
        let catalogue = c.catalogue;
        let node_type = catalogue.node_type(&pool.node_type).map(|n| &catalogue.node_types[n]);
        if node_type.is_none() {
            let names = catalogue.node_types.iter().map(|n| n.name.as_str());
            c.unknown(p.key("node_type"), "node type", &pool.node_type, names, ", or define it under [[node_types]]");
        }
        let accel = node_type.and_then(|n| catalogue.accelerator(&n.accelerator)).map(|a| &catalogue.accelerators[a]);
        check_pool(c, pool, &p);
        if let Some(t) = &pool.telemetry {
            check_telemetry(c, pool, t, &p);
        }
        facts.insert(
            pool.name.clone(),
            PoolFacts {
                per_node: node_type.map(|n| n.accelerators_per_node),
                max_nodes: pool.max_node_count(),
                memory_gb: accel.map(|a| a.memory_gb),
                accelerator: accel.map(|a| a.name.clone()),
                recorded: pool.telemetry.is_some(),
                node_cpu_mem: node_type.map(|n| (n.vcpus, (n.memory_gb * 1_024.0) as u32)),
            },
        );
    }
    facts
}

/// Checks one pool, at `p`.
fn check_pool(c: &mut Checker<'_>, pool: &PoolSpec, p: &FieldPath) {
    check_size(c, pool, p);
    check_cost(c, pool, p);
    if let Some(int) = &pool.interruption {
        check_interruption(c, pool.capacity, int, &p.key("interruption"));
    }
    if let Some(s) = &pool.stockouts {
        check_stockouts(c, pool.capacity, s, &p.key("stockouts"));
    }
    if let Some(f) = &pool.failures {
        c.at_least(p.key("failures").key("mtbf"), "the MTBF", f.mtbf, SimDuration::from_secs(60));
    }
    if let Some(e) = pool.energy_price_per_kwh {
        c.non_negative(p.key("energy_price_per_kwh"), "the energy price", e);
    }
    if let Some(pue) = pool.pue {
        c.pue(p.key("pue"), pue);
    }
    if let Some(l) = pool.list_price_per_hour {
        c.non_negative(p.key("list_price_per_hour"), "the list price", l);
    }
}

/// A committed pool has a fixed `nodes`; a cloud pool grows from
/// `min_nodes` to `max_nodes`, starting at `initial_nodes`.
fn check_size(c: &mut Checker<'_>, pool: &PoolSpec, p: &FieldPath) {
    let committed = pool.capacity.is_committed();
    for (k, v) in
        [("nodes", pool.nodes), ("max_nodes", pool.max_nodes), ("min_nodes", Some(pool.min_nodes)), ("initial_nodes", pool.initial_nodes)]
    {
        if let Some(v) = v {
            c.count_at_most(p.key(k), k, v);
        }
    }
    if committed {
        if pool.nodes.is_none() {
            c.report(
                ErrorKind::MissingField,
                p.key("nodes"),
                format!("a {} pool needs a fixed node count", pool.capacity.as_str()),
                Some("add `nodes = N`".into()),
            );
        }
        for (k, set) in
            [("min_nodes", pool.min_nodes != 0), ("max_nodes", pool.max_nodes.is_some()), ("initial_nodes", pool.initial_nodes.is_some())]
        {
            if set {
                c.report(
                    ErrorKind::InvalidValue,
                    p.key(k),
                    format!("a {} pool has a fixed size", pool.capacity.as_str()),
                    Some("use `nodes = N` instead".into()),
                );
            }
        }
    } else {
        if pool.nodes.is_some() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("nodes"),
                "cloud pools grow and shrink",
                Some("use `min_nodes`, `max_nodes` and `initial_nodes`".into()),
            );
        }
        let max = pool.max_node_count();
        if pool.min_nodes > max {
            c.report(
                ErrorKind::InvalidValue,
                p.key("min_nodes"),
                format!("min_nodes ({}) is above max_nodes ({max})", pool.min_nodes),
                None,
            );
        }
        if let Some(init) = pool.initial_nodes
            && (init < pool.min_nodes || init > max)
        {
            c.report(
                ErrorKind::InvalidValue,
                p.key("initial_nodes"),
                format!("initial_nodes ({init}) is outside min_nodes..max_nodes ({}..{max})", pool.min_nodes),
                None,
            );
        }
        if max == 0 {
            c.report(
                ErrorKind::InvalidValue,
                p.key("max_nodes"),
                "the pool can never hold a node",
                Some("set `max_nodes` to at least 1".into()),
            );
        }
    }
}

/// A pool's price, or the capital cost of an on-prem one.
fn check_cost(c: &mut Checker<'_>, pool: &PoolSpec, p: &FieldPath) {
    match pool.capacity {
        CapacityType::Spot | CapacityType::Reserved if pool.price.is_none() => {
            c.report(
                ErrorKind::MissingField,
                p.key("price"),
                format!("a {} pool needs a price", pool.capacity.as_str()),
                Some("add `price = 12.5` (per node-hour), or a `mean_reverting` or `table` process".into()),
            );
        }
        CapacityType::OnPrem if pool.capex.is_none() && pool.price.is_none() => {
            c.report(
                ErrorKind::MissingField,
                p.key("capex"),
                "an on-prem pool needs its capital cost",
                Some("add `capex = { per_node = 300000, years = 4 }`, or a `price` per node-hour".into()),
            );
        }
        _ => {}
    }
    if let Some(price) = &pool.price {
        check_price(c, price, &p.key("price"));
    }
    if let Some(capex) = &pool.capex {
        let cp = p.key("capex");
        if pool.capacity != CapacityType::OnPrem {
            c.report(
                ErrorKind::InvalidValue,
                cp.clone(),
                "only on-prem pools have a capital cost",
                Some("remove `capex`, or set `capacity = \"on-prem\"`".into()),
            );
        }
        c.non_negative(cp.key("per_node"), "the capital cost", capex.per_node);
        c.positive(cp.key("years"), "the amortisation period", capex.years);
        c.non_negative(cp.key("opex_per_node_hour"), "the running cost", capex.opex_per_node_hour);
    }
}
