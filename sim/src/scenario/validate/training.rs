//! Checks of training jobs, streams and job traces: gangs that fit, checkpoints and speeds.

use super::checker::{Checker, known};
use super::fleet::PoolFacts;
use crate::scenario::duration::Dur;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::time::SimDuration;
use std::collections::BTreeMap;

pub(super) fn check_gang(c: &mut Checker<'_>, gpus: u32, refs: &[String], p: &FieldPath, pools: &BTreeMap<String, PoolFacts>) {
    c.count_at_most(p.clone(), "a gang", gpus);
    if gpus == 0 {
        c.report(ErrorKind::InvalidValue, p.clone(), "a gang needs at least one accelerator", None);
        return;
    }
    let known_pools: Vec<(&String, &PoolFacts)> = refs.iter().filter_map(|r| pools.get_key_value(r)).collect();
    let fits = |f: &PoolFacts| f.per_node.is_some_and(|n| gang_fits(gpus, n, f.max_nodes));
    if !known_pools.is_empty() && !known_pools.iter().any(|(_, f)| fits(f)) {
        let (name, f) =
            known_pools.iter().max_by_key(|(_, f)| f.per_node.unwrap_or(0) as u64 * f.max_nodes as u64).copied().unwrap_or(known_pools[0]);
        let per = f.per_node.unwrap_or(0);
        let hint = if per > 0 && gpus > per && !gpus.is_multiple_of(per) {
            format!("a gang spread over nodes takes whole nodes: use a multiple of {per}, or {per} or fewer")
        } else {
            format!(
                "the largest of its pools, `{name}`, holds {} ({} nodes × {per}); lower `gpus` or raise that pool's size",
                per as u64 * f.max_nodes as u64,
                f.max_nodes
            )
        };
        c.report(ErrorKind::Unsatisfiable, p.clone(), format!("a gang of {gpus} accelerators fits in none of its pools"), Some(hint));
    }
}

/// Whether a gang of `gpus` can be placed in a pool of nodes with `per_node`
/// accelerators and at most `max_nodes` nodes: within one node, or over whole nodes.
pub fn gang_fits(gpus: u32, per_node: u32, max_nodes: u32) -> bool {
    per_node > 0 && (gpus <= per_node && max_nodes > 0 || gpus.is_multiple_of(per_node) && gpus / per_node <= max_nodes)
}

pub(super) fn check_execution(c: &mut Checker<'_>, p: &FieldPath, interval: Dur, speed: &BTreeMap<String, f64>) {
    c.at_least(p.key("checkpoint_interval"), "the checkpoint interval", interval, SimDuration::from_secs(1));
    for (k, v) in speed {
        if c.catalogue.accelerator(k).is_none() {
            let hint = known(c.catalogue.accelerators.iter().map(|a| a.name.as_str()));
            c.report(ErrorKind::UnknownReference, p.key("speed").key(k), format!("unknown accelerator `{k}`"), Some(hint));
        }
        c.positive(p.key("speed").key(k), "a speed", *v);
        c.at_most(p.key("speed").key(k), "a speed", *v, 1_000.0);
    }
}
