//! Checks of the scenario's own catalogue entries: accelerators, node types, models.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::ScenarioSpec;

/// Checks `[[accelerators]]`, `[[node_types]]` and `[[models]]`.
pub(super) fn check_catalogue_entries(c: &mut Checker<'_>, spec: &ScenarioSpec) {
    for (i, a) in spec.accelerators.iter().enumerate() {
        let p = FieldPath::root().key("accelerators").index(i);
        for (k, v) in [
            ("memory_gb", a.memory_gb),
            ("bf16_tflops", a.bf16_tflops),
            ("memory_bandwidth_tbps", a.memory_bandwidth_tbps),
            ("interconnect_gbps", a.interconnect_gbps),
            ("training_speed", a.training_speed),
        ] {
            c.positive(p.key(k), k, v);
        }
        c.non_negative(p.key("idle_watts"), "idle power", a.idle_watts);
        if !(a.max_watts >= a.idle_watts) {
            c.report(
                ErrorKind::InvalidValue,
                p.key("max_watts"),
                format!("max_watts ({}) is below idle_watts ({})", a.max_watts, a.idle_watts),
                None,
            );
        }
        c.fraction(p.key("mfu_prefill"), "prefill MFU", a.mfu_prefill, false);
        c.fraction(p.key("mfu_decode"), "decode MFU", a.mfu_decode, false);
    }
    for (i, n) in spec.node_types.iter().enumerate() {
        let p = FieldPath::root().key("node_types").index(i);
        c.accelerator(p.key("accelerator"), &n.accelerator);
        if n.accelerators_per_node == 0 {
            c.report(ErrorKind::InvalidValue, p.key("accelerators_per_node"), "a node type needs at least one accelerator", None);
        }
        c.non_negative(p.key("list_price_per_hour"), "the list price", n.list_price_per_hour);
        c.non_negative(p.key("host_watts"), "host power", n.host_watts);
    }
    for (i, m) in spec.models.iter().enumerate() {
        let p = FieldPath::root().key("models").index(i);
        c.positive(p.key("parameters_b"), "the parameter count", m.parameters_b);
        c.positive(p.key("bytes_per_param"), "bytes per parameter", m.bytes_per_param);
        for (k, v) in [("layers", m.layers), ("heads", m.heads), ("kv_heads", m.kv_heads), ("head_dim", m.head_dim), ("hidden", m.hidden)] {
            c.at_least_one(p.key(k), &format!("`{k}`"), v);
        }
    }
}
