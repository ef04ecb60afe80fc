//! One LLM architecture: the shape the service-time model needs.

use serde::{Deserialize, Serialize};

/// A decoder-only transformer, described by what its step time depends on.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelArch {
    /// The name scenarios refer to, such as `llama-3.1-8b`.
    pub name: String,
    /// Parameters, in billions.
    pub parameters_b: f64,
    /// Transformer layers.
    pub layers: u32,
    /// Attention (query) heads.
    pub heads: u32,
    /// Key/value heads (fewer than `heads` under grouped-query attention).
    pub kv_heads: u32,
    /// Dimension of one head.
    pub head_dim: u32,
    /// Model (hidden) dimension.
    pub hidden: u32,
    /// Bytes per weight and per KV element: 2 for bf16, 1 for fp8.
    #[serde(default = "two")]
    pub bytes_per_param: f64,
    /// Where the figures come from.
    #[serde(default)]
    pub source: String,
}

fn two() -> f64 {
    2.0
}

impl ModelArch {
    /// Bytes of weights.
    pub fn weight_bytes(&self) -> f64 {
        self.parameters_b * 1e9 * self.bytes_per_param
    }

    /// Bytes of KV cache per token of context: 2 (K and V) × layers × KV heads × head dim × bytes.
    pub fn kv_bytes_per_token(&self) -> f64 {
        2.0 * f64::from(self.layers) * f64::from(self.kv_heads) * f64::from(self.head_dim) * self.bytes_per_param
    }
}
