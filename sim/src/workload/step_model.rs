//! The roofline step model: how long one engine step takes on an accelerator.
//!
//! This is the model of `models.md` (BLIS, Vidur): a step runs some prefill
//! tokens and some decode tokens together, and its time is the p-norm of its
//! compute time and its memory time, plus tensor-parallel communication and
//! fixed overheads per layer, per step and per request.
//!
//! ```text
//! T_step    = combine(T_compute, T_memory) + T_tp + L·c_layer + c_step + B·c_req
//! T_compute = FLOPs / (TP · peak · MFU)
//! T_memory  = (W/TP) / (bw · MBU_w) + (KV bytes read and written / TP) / (bw · MBU_kv)
//! ```

use crate::catalogue::{Accelerator, ModelArch};
use crate::scenario::spec::CalibrationSpec;
use crate::scenario::usable_gb;
use crate::time::SimDuration;

/// The step model of one model on one accelerator type at one TP degree.
/// Rates are stored as reciprocals so a step costs multiplications only.
#[derive(Clone, Debug, PartialEq)]
pub struct StepModel {
    /// FLOPs per token of the dense part: 2 × parameters.
    dense_flops_per_token: f64,
    /// Attention FLOPs per token per token of context: 4 × L × heads × head_dim.
    attn_flops_per_ctx: f64,
    /// Seconds per FLOP of the TP group in prefill and in decode.
    secs_per_prefill_flop: f64,
    secs_per_decode_flop: f64,
    /// Seconds to stream one device's share of the weights.
    weight_secs: f64,
    /// Seconds per token of KV cache read or written, per device.
    kv_secs_per_token: f64,
    /// TP communication seconds per token in a step, and the fixed launch cost.
    tp_secs_per_token: f64,
    tp_fixed_secs: f64,
    /// Fixed seconds per step (layers and step) and per request in the batch.
    fixed_secs: f64,
    per_request_secs: f64,
    /// Exponent of the p-norm; 0 means max.
    p: f64,
    /// Tokens of KV cache a replica can hold.
    kv_capacity_tokens: u64,
}

/// The time of one step and how hard it works the accelerator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTime {
    /// Duration of the step (at least 1 ns).
    pub duration: SimDuration,
    /// Activity between 0 (idle) and 1 (full power) during the step.
    pub activity: f64,
}

impl StepModel {
    /// Builds the model for `model` served with `tp` devices of `accel`.
    pub fn new(model: &ModelArch, accel: &Accelerator, tp: u32, cal: &CalibrationSpec) -> StepModel {
        let tp_f = f64::from(tp.max(1));
        let layers = f64::from(model.layers);
        let peak = accel.bf16_tflops * 1e12 * tp_f;
        let bw = accel.memory_bandwidth_tbps * 1e12;
        let link = accel.interconnect_gbps * 1e9;
        // Two all-reduces per layer of a hidden-size activation per token (Megatron).
        let (tp_secs_per_token, tp_fixed_secs) = if tp > 1 {
            let per_token = 2.0 * layers * 2.0 * (tp_f - 1.0) / tp_f * f64::from(model.hidden) * model.bytes_per_param / link;
            (per_token, 2.0 * layers * 20e-6)
        } else {
            (0.0, 0.0)
        };
        let usable_bytes = usable_gb(accel.memory_gb, cal) * 1e9 * tp_f;
        let kv_capacity_tokens = ((usable_bytes - model.weight_bytes()) / model.kv_bytes_per_token()).max(0.0) as u64;
        StepModel {
            dense_flops_per_token: 2.0 * model.parameters_b * 1e9,
            attn_flops_per_ctx: 4.0 * layers * f64::from(model.heads) * f64::from(model.head_dim),
            secs_per_prefill_flop: 1.0 / (peak * cal.mfu_prefill.unwrap_or(accel.mfu_prefill)),
            secs_per_decode_flop: 1.0 / (peak * cal.mfu_decode.unwrap_or(accel.mfu_decode)),
            weight_secs: model.weight_bytes() / tp_f / (bw * cal.mbu_weights),
            kv_secs_per_token: model.kv_bytes_per_token() / tp_f / (bw * cal.mbu_kv),
            tp_secs_per_token,
            tp_fixed_secs,
            fixed_secs: layers * cal.layer_overhead.get().as_secs_f64() + cal.step_overhead.get().as_secs_f64(),
            per_request_secs: cal.request_overhead.get().as_secs_f64(),
            p: cal.combine_p,
            kv_capacity_tokens,
        }
    }

    /// Tokens of KV cache one replica holds.
    pub fn kv_capacity_tokens(&self) -> u64 {
        self.kv_capacity_tokens
    }

    /// A step that prefills `prefill_tokens` new tokens (whose prompts' squared
    /// lengths sum to `prefill_sq_half × 2`) while `decode_reqs` requests with
    /// `decode_ctx` tokens of context between them decode one token each.
    #[inline]
    pub fn step(&self, prefill_tokens: f64, prefill_sq_half: f64, decode_reqs: u32, decode_ctx: f64) -> StepTime {
        let b = f64::from(decode_reqs);
        let prefill_flops = self.dense_flops_per_token * prefill_tokens + self.attn_flops_per_ctx * prefill_sq_half;
        let decode_flops = self.dense_flops_per_token * b + self.attn_flops_per_ctx * decode_ctx;
        let t_compute = prefill_flops * self.secs_per_prefill_flop + decode_flops * self.secs_per_decode_flop;
        // Weights once per step; decode reads its whole context; new tokens write their KV.
        let t_memory = self.weight_secs + (decode_ctx + b + prefill_tokens) * self.kv_secs_per_token;
        let combined = if self.p == 0.0 {
            t_compute.max(t_memory)
        } else if self.p == 2.0 {
            (t_compute * t_compute + t_memory * t_memory).sqrt()
        } else {
            (t_compute.powf(self.p) + t_memory.powf(self.p)).powf(1.0 / self.p)
        };
        let tokens = prefill_tokens + b;
        let t_tp = if tokens > 0.0 { self.tp_secs_per_token * tokens + self.tp_fixed_secs } else { 0.0 };
        let total = combined + t_tp + self.fixed_secs + b * self.per_request_secs;
        let activity = (0.35 + 0.65 * (t_compute / total)).clamp(0.0, 1.0);
        StepTime { duration: SimDuration::from_secs_f64(total).max(SimDuration(1)), activity }
    }

    /// A pure decode step of `b` requests holding `ctx` tokens of context in all.
    #[inline]
    pub fn decode(&self, b: u32, ctx: f64) -> StepTime {
        self.step(0.0, 0.0, b, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn model_on(accel: &str, model: &str, tp: u32) -> StepModel {
        let c = Catalogue::builtin();
        let a = &c.accelerators[c.accelerator(accel).unwrap()];
        let m = &c.models[c.model(model).unwrap()];
        StepModel::new(m, a, tp, &CalibrationSpec::default())
    }

    /// models.md's sanity figures: vLLM, batch 8, Llama-3.1-8B, ms per decode step.
    #[test]
    fn decode_steps_match_measured_vllm_within_fifteen_percent() {
        for (accel, measured_ms) in [("H200", 6.5), ("H100", 7.8), ("A100", 12.3)] {
            let m = model_on(accel, "llama-3.1-8b", 1);
            let ms = m.decode(8, 8.0 * 512.0).duration.as_secs_f64() * 1e3;
            assert!((ms / measured_ms - 1.0).abs() < 0.15, "{accel}: {ms:.2} ms vs {measured_ms} ms");
        }
    }

    #[test]
    fn prefill_is_compute_bound_and_decode_memory_bound() {
        let m = model_on("H100", "llama-3.1-8b", 1);
        let prefill = m.step(2048.0, 2048.0 * 2048.0 / 2.0, 0, 0.0);
        let decode = m.decode(1, 512.0);
        assert!(prefill.activity > 0.8, "{prefill:?}");
        assert!(decode.activity < 0.5, "{decode:?}");
        // 2k prefill tokens take several times a single decode step.
        assert!(prefill.duration.as_nanos() > 3 * decode.duration.as_nanos());
    }

    #[test]
    fn tensor_parallelism_speeds_up_a_big_model_and_holds_more_kv() {
        let tp4 = model_on("H100", "llama-3.1-70b", 4);
        let tp8 = model_on("H100", "llama-3.1-70b", 8);
        assert!(tp8.decode(16, 16_000.0).duration < tp4.decode(16, 16_000.0).duration);
        assert!(tp8.kv_capacity_tokens() > tp4.kv_capacity_tokens());
        // An 8B model on one H100: about 400k tokens of KV (54 GB / 128 KiB).
        let one = model_on("H100", "llama-3.1-8b", 1);
        assert!((350_000..450_000).contains(&one.kv_capacity_tokens()), "{}", one.kv_capacity_tokens());
    }
}
