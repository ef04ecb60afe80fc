//! The labels a pool's nodes carry, as workloads' selectors see them.

use std::collections::BTreeMap;
use twin_sim::scenario::spec::PoolSpec;

/// The labels Twin gives every node of `pool`, whose accelerator is called
/// `accelerator` in the catalogue: `twin.dev/pool` (the pool's name),
/// `gpu.type` (the accelerator), `twin.dev/capacity-type` (`on-prem`,
/// `reserved`, `spot` or `on-demand`), `karpenter.sh/capacity-type` (`spot`
/// or `on-demand`; cloud pools only, reserved counting as on-demand),
/// `node.kubernetes.io/instance-type` (the node type), and
/// `topology.kubernetes.io/region` and `/zone` when the pool sets them; then
/// the pool's own `labels`, which win.
///
/// This is the simulator's own rule ([`PoolSpec::node_labels`]), so a
/// selector that picks a pool here picks the same nodes in the run.
pub fn pool_labels(pool: &PoolSpec, accelerator: &str) -> BTreeMap<String, String> {
    pool.node_labels(accelerator)
}

/// `{k=v, k=v}`, for messages.
pub(crate) fn show(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_labels_then_the_pools_own() {
        let s = twin_sim::scenario::Scenario::from_toml(
            r#"
            format_version = 1
            name = "t"
            horizon = "1h"
            [[pools]]
            name = "a100"
            node_type = "p4de.24xlarge"
            capacity = "reserved"
            nodes = 2
            price = 20.0
            region = "us-east-1"
            labels = { "gpu.type" = "nvidia-a100" }
            "#,
            "s.toml",
        )
        .unwrap();
        let l = pool_labels(&s.spec.pools[0], "A100");
        assert_eq!(
            show(&l),
            "{gpu.type=nvidia-a100, karpenter.sh/capacity-type=on-demand, node.kubernetes.io/instance-type=p4de.24xlarge, \
             topology.kubernetes.io/region=us-east-1, twin.dev/capacity-type=reserved, twin.dev/pool=a100}"
        );
    }
}
