//! Karpenter NodePools as Twin pools.
//!
//! A NodePool becomes one pool per instance type of its
//! `node.kubernetes.io/instance-type` requirement (which it must have, with
//! `In`: Twin needs node types from its catalogue) and per capacity type its
//! `karpenter.sh/capacity-type` requirement allows (`spot`, `on-demand`;
//! `on-demand` when absent, as in Karpenter), named
//! `<nodepool>-<instance type>-<capacity type>`.
//!
//! - Labels: the template's labels, `karpenter.sh/nodepool`, and each
//!   requirement with one `In` value (a zone or region one sets the pool's
//!   zone or region); taints: the template's (`NoExecute` read as `NoSchedule`).
//! - `limits` (`nvidia.com/gpu` or another accelerator resource, `cpu`,
//!   `memory`) bound the nodes: the fewest of limit / node size. Karpenter
//!   shares a NodePool's limits among all its nodes; Twin gives each pool
//!   the whole limit (a note says so when there are several pools).
//! - `disruption.consolidateAfter` is how long an empty node stays
//!   (`Never`: the whole run).
//! - Prices are never invented: a spot pool takes `twin.dev/spot-price` (per
//!   node-hour: a number, or inline TOML `{ "p5.48xlarge" = 30.0 }` by
//!   instance type), else the price of the scenario pool `twin.dev/like`
//!   names, when that is a spot pool. `twin.dev/like` also lends its
//!   interruptions, stock-outs, failures, provisioning delay, energy price
//!   and PUE. On-demand pools take the node type's list price (or the like
//!   pool's price, when it is an on-demand pool).

use crate::annotations::{self, Target};
use crate::error::Fault;
use crate::field::FieldPath;
use crate::karpenter::NodePool;
use crate::pod::ACCELERATORS;
use crate::quantity::{self, Quantity};
use crate::selector;
use crate::workload::close_names;
use std::collections::BTreeMap;
use twin_scheduler::Taint;
use twin_sim::catalogue::Catalogue;
use twin_sim::scenario::Dur;
use twin_sim::scenario::duration::parse_duration;
use twin_sim::scenario::spec::{CapacityType, PoolSpec, PriceSpec, ScenarioSpec};
use twin_sim::time::SimDuration;

const CAPACITY_KEY: &str = "karpenter.sh/capacity-type";
const INSTANCE_KEY: &str = "node.kubernetes.io/instance-type";
const ZONE_KEY: &str = "topology.kubernetes.io/zone";
const REGION_KEY: &str = "topology.kubernetes.io/region";

/// The pools of a NodePool.
pub(crate) fn pools(np: &NodePool, spec: &ScenarioSpec, catalogue: &Catalogue, notes: &mut Vec<String>) -> Result<Vec<PoolSpec>, Fault> {
    let name = np
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Fault::value(FieldPath::of("metadata.name"), "the NodePool has no name", ""))?;
    let display = format!("NodePool {name}");
    let ann = annotations::read(&np.metadata, &FieldPath::of("metadata"), Target::NodePool)?;
    let rp = FieldPath::of("spec.template.spec.requirements");
    let reqs = &np.spec.template.spec.requirements;
    let find = |key: &str| reqs.iter().enumerate().find(|(_, r)| r.key == key);

    // Capacity types.
    let mut capacities = vec![CapacityType::OnDemand];
    if let Some((i, r)) = find(CAPACITY_KEY) {
        let path = rp.index(i);
        let e = selector::Expr::from_parts(&r.key, &r.operator, &r.values, &path)?;
        for (j, v) in r.values.iter().enumerate() {
            if !matches!(v.as_str(), "spot" | "on-demand" | "reserved") {
                return Err(Fault::value(
                    path.key("values").index(j),
                    format!("unknown capacity type {v:?}"),
                    "spot, on-demand or reserved",
                ));
            }
        }
        let allowed = |v: &str| {
            let l = BTreeMap::from([(CAPACITY_KEY.to_string(), v.to_string())]);
            e.passes(&l)
        };
        capacities = [("spot", CapacityType::Spot), ("on-demand", CapacityType::OnDemand)]
            .into_iter()
            .filter(|(v, _)| allowed(v))
            .map(|(_, c)| c)
            .collect();
        if allowed("reserved") && r.operator == "In" {
            notes.push(format!("{display}: capacity type reserved is not made from NodePools: declare reserved pools in the scenario"));
        }
        if capacities.is_empty() {
            return Err(Fault::value(
                path,
                "no spot or on-demand capacity is allowed",
                "allow spot or on-demand, or declare reserved pools in the scenario",
            ));
        }
    }

    // Instance types.
    let Some((i, r)) = find(INSTANCE_KEY) else {
        let names: Vec<&str> = catalogue.node_types.iter().map(|n| n.name.as_str()).collect();
        return Err(Fault::value(
            rp.clone(),
            format!("Twin needs the NodePool's instance types: a requirement {INSTANCE_KEY} In [...]"),
            format!("the catalogue's node types: {}", names.join(", ")),
        ));
    };
    let ip = rp.index(i);
    if r.operator != "In" || r.values.is_empty() {
        return Err(Fault::value(
            ip.key("operator"),
            format!("{INSTANCE_KEY} {} is not a list of instance types", r.operator),
            "write operator: In with values naming node types of the catalogue",
        ));
    }
    let mut instances = Vec::new();
    for (j, v) in r.values.iter().enumerate() {
        match catalogue.node_type(v) {
            Some(n) => instances.push(&catalogue.node_types[n]),
            None => {
                let names: Vec<&str> = catalogue.node_types.iter().map(|n| n.name.as_str()).collect();
                return Err(Fault::value(
                    ip.key("values").index(j),
                    format!("unknown instance type {v:?}"),
                    format!("{}; or add it under [[node_types]] in the scenario", close_names(v, &names)),
                ));
            }
        }
    }

    // Labels, zone, region, taints.
    let mut labels = np.spec.template.metadata.as_ref().map(|m| m.labels.clone()).unwrap_or_default();
    let (mut zone, mut region) = (String::new(), String::new());
    for r in reqs {
        if let ("In", [v]) = (r.operator.as_str(), r.values.as_slice()) {
            match r.key.as_str() {
                CAPACITY_KEY | INSTANCE_KEY => {}
                ZONE_KEY => zone = v.clone(),
                REGION_KEY => region = v.clone(),
                k => {
                    labels.insert(k.to_string(), v.clone());
                }
            }
        }
    }
    labels.insert("karpenter.sh/nodepool".to_string(), name.clone());
    let tp = FieldPath::of("spec.template.spec.taints");
    let mut taints = Vec::new();
    for (i, t) in np.spec.template.spec.taints.iter().enumerate() {
        let effect = selector::effect(&t.effect, &tp.index(i).key("effect"))?;
        if t.effect == "NoExecute" {
            notes.push(format!("{display}: taint {}: NoExecute read as NoSchedule (Twin keeps new pods away; it evicts none)", t.key));
        }
        taints.push(Taint { key: t.key.clone(), value: t.value.clone().unwrap_or_default(), effect });
    }

    // Disruption.
    let mut scale_down = None;
    if let Some(d) = &np.spec.disruption {
        if let Some(after) = d.consolidate_after.as_deref() {
            let path = FieldPath::of("spec.disruption.consolidateAfter");
            scale_down = Some(if after == "Never" {
                Dur(spec.horizon.get().max(SimDuration::from_secs(86_400)))
            } else {
                Dur(parse_duration(after).map_err(|e| Fault::value(path, e, "a duration such as 30s, 5m or 1h, or Never"))?)
            });
        }
        if d.consolidation_policy.as_deref() == Some("WhenEmptyOrUnderutilized") {
            notes.push(format!("{display}: consolidationPolicy WhenEmptyOrUnderutilized: Twin releases empty nodes only"));
        }
    }
    if let Some(w) = np.spec.weight {
        notes.push(format!("{display}: weight {w} is not modelled: Twin's scheduler chooses among pools by its profile"));
    }

    // Prices.
    let like = match ann.get("like") {
        None => None,
        Some(l) => Some(spec.pools.iter().find(|p| p.name == l).ok_or_else(|| {
            let names: Vec<&str> = spec.pools.iter().map(|p| p.name.as_str()).collect();
            Fault::reference(ann.path("like"), format!("the scenario has no pool {l:?}"), close_names(l, &names))
        })?),
    };
    let spot_prices = spot_prices(&ann)?;

    let mut out = Vec::new();
    for node in &instances {
        for &capacity in &capacities {
            let mut p = crate::apply::pool_template();
            p.name = format!("{name}-{}-{}", node.name, capacity.as_str());
            p.node_type = node.name.clone();
            p.capacity = capacity;
            p.labels = labels.clone();
            p.taints = taints.clone();
            p.max_nodes = max_nodes(np, node, &display)?;
            p.scale_down_delay = scale_down;
            if let Some(l) = like {
                p.region = l.region.clone();
                p.zone = l.zone.clone();
                p.provisioning_delay = l.provisioning_delay;
                p.failures = l.failures.clone();
                p.energy_price_per_kwh = l.energy_price_per_kwh;
                p.pue = l.pue;
                if l.capacity == capacity {
                    p.price = l.price.clone();
                }
                if capacity == CapacityType::Spot && l.capacity == CapacityType::Spot {
                    p.interruption = l.interruption.clone();
                    p.stockouts = l.stockouts.clone();
                }
            }
            if !region.is_empty() {
                p.region = region.clone();
            }
            if !zone.is_empty() {
                p.zone = zone.clone();
            }
            if capacity == CapacityType::Spot {
                if let Some(price) = spot_prices.as_ref().and_then(|s| s.get(&node.name)) {
                    p.price = Some(price.clone());
                }
                if p.price.is_none() {
                    return Err(Fault::value(
                        FieldPath::of("metadata.annotations"),
                        format!("the spot pool {} needs a price", p.name),
                        "annotate the NodePool twin.dev/spot-price: \"12.5\" (per node-hour), or twin.dev/like: <a spot pool of the scenario>",
                    ));
                }
            }
            out.push(p);
        }
    }
    if out.len() > 1 && !np.spec.limits.is_empty() {
        notes.push(format!("{display}: its limits bound each of its {} pools, not their sum", out.len()));
    }
    notes.push(format!("{display}: pools {}", out.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")));
    Ok(out)
}

/// `twin.dev/spot-price`: one price for every instance type, or a table by instance type.
fn spot_prices(ann: &annotations::Annotations<'_>) -> Result<Option<SpotPrices>, Fault> {
    let Some(text) = ann.get("spot-price") else { return Ok(None) };
    if let Ok(v) = text.trim().parse::<f64>() {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(ann.fault("spot-price", format!("{text:?} is not a price")));
        }
        return Ok(Some(SpotPrices::One(PriceSpec::Fixed(v))));
    }
    let table: BTreeMap<String, PriceSpec> = ann.toml("spot-price")?.unwrap_or_default();
    Ok(Some(SpotPrices::ByInstance(table)))
}

enum SpotPrices {
    One(PriceSpec),
    ByInstance(BTreeMap<String, PriceSpec>),
}

impl SpotPrices {
    fn get(&self, instance: &str) -> Option<&PriceSpec> {
        match self {
            SpotPrices::One(p) => Some(p),
            SpotPrices::ByInstance(t) => t.iter().find(|(k, _)| k.eq_ignore_ascii_case(instance)).map(|(_, v)| v),
        }
    }
}

/// The most nodes of `node` the NodePool's limits allow, or `None` (the default).
fn max_nodes(np: &NodePool, node: &twin_sim::catalogue::NodeType, display: &str) -> Result<Option<u32>, Fault> {
    let lp = FieldPath::of("spec.limits");
    let mut most: Option<u64> = None;
    for (resource, q) in &np.spec.limits {
        let path = lp.key(resource);
        let v = Quantity::parse(&q.0).map_err(|e| Fault::value(path.clone(), e, quantity::HINT))?;
        let too_large = || Fault::value(path.clone(), format!("{:?} is too large", q.0), "");
        let per_node = if ACCELERATORS.iter().any(|(r, _)| r == resource) {
            v.count().ok_or_else(too_large)?.checked_div(u64::from(node.accelerators_per_node))
        } else if resource == "cpu" {
            v.milli().ok_or_else(too_large)?.checked_div(u64::from(node.vcpus) * 1_000)
        } else if resource == "memory" {
            v.mib().ok_or_else(too_large)?.checked_div((node.memory_gb * 1_024.0) as u64)
        } else {
            None
        };
        if let Some(n) = per_node {
            most = Some(most.map_or(n, |m| m.min(n)));
        }
    }
    match most {
        None => Ok(None),
        Some(0) => Err(Fault::value(
            lp,
            format!("{display}'s limits leave no room for one {} node", node.name),
            "raise the limits, or drop the instance type",
        )),
        Some(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
    }
}
