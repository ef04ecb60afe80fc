//! Lane arithmetic for the CPU backend: `W` replicas side by side in plain
//! arrays, with the transcendental functions written as branch-free
//! polynomials (Cephes' single-precision ones) so that a loop over the lanes
//! compiles to SIMD instructions instead of `W` calls into libm.
//!
//! Accuracy: `ln` and `exp` are within 2 ulp of the correctly rounded value
//! over the ranges the model uses, `cos_turns` within 2e-7 absolute; the
//! model's reference (`crate::model`) uses the standard library's, so the
//! two agree to f32 rounding, not bit for bit.

/// Replicas run side by side (sixteen f32 lanes, two AVX2 registers: more work between the masked loops' checks).
pub const W: usize = 16;

/// One f32 per lane.
pub type F = [f32; W];
/// One flag per lane.
pub type M = [bool; W];

/// Every lane on.
pub const ALL: M = [true; W];

/// Whether any lane is on.
#[inline(always)]
pub fn any(m: &M) -> bool {
    m.iter().fold(false, |a, &b| a | b)
}

/// Natural logarithm of a positive, normal `x` (Cephes `logf`).
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants as published
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = m × 2^e with m in [0.5, 1).
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= i32::from(small);
    let x = if small { m + m - 1.0 } else { m - 1.0 };
    let fe = e as f32;
    let z = x * x;
    let mut y = 7.037_683_6e-2f32;
    y = y * x - 1.151_461e-1;
    y = y * x + 1.167_699_9e-1;
    y = y * x - 1.242_014_1e-1;
    y = y * x + 1.424_932_3e-1;
    y = y * x - 1.666_805_8e-1;
    y = y * x + 2.000_071_4e-1;
    y = y * x - 2.499_999_4e-1;
    y = y * x + 3.333_333_1e-1;
    y = y * x * z;
    y += -2.121_944_4e-4 * fe;
    y += -0.5 * z;
    x + y + 0.693_359_4 * fe
}

/// e^x (Cephes `expf`); below −87.3 it gives the smallest normal value's
/// neighbourhood (about 1.3e-38) rather than a subnormal or zero.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants as published
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let x = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let z = x * x;
    let mut y = 1.987_569_1e-4f32;
    y = y * x + 1.398_199_9e-3;
    y = y * x + 8.333_452e-3;
    y = y * x + 4.166_579_6e-2;
    y = y * x + 1.666_666_5e-1;
    y = y * x + 5.000_000_1e-1;
    y = y * z + x + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// cos(2π·u) for u in turns (Cephes `sinf`/`cosf` polynomials on an
/// eighth of a turn).
#[inline(always)]
pub fn cos_turns(u: f32) -> f32 {
    let a = (u - (u + 0.5).floor()).abs(); // [0, 0.5]
    let flip = a > 0.25;
    let b = if flip { 0.5 - a } else { a }; // [0, 0.25]
    let use_sin = b > 0.125;
    let y = std::f32::consts::TAU * if use_sin { 0.25 - b } else { b }; // [0, π/4]
    let z = y * y;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * y + y;
    let r = if use_sin { s } else { c };
    if flip { -r } else { r }
}

/// Rust's `f32::round` (halves away from zero) without a libm call.
#[inline(always)]
pub fn round_away(x: f32) -> f32 {
    let t = x.trunc();
    if (x - t).abs() >= 0.5 { t + 1f32.copysign(x) } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn ln_and_exp_are_within_two_ulp() {
        let mut worst = (0u32, 0u32);
        let mut x = 1.0e-30f32;
        while x < 1.0e30 {
            worst.0 = worst.0.max(ulps(ln(x), (x as f64).ln() as f32));
            x *= 1.000_37;
        }
        let mut x = -87.0f32;
        while x < 88.0 {
            worst.1 = worst.1.max(ulps(exp(x), (x as f64).exp() as f32));
            x += 0.000_97;
        }
        assert!(worst.0 <= 2 && worst.1 <= 2, "{worst:?}");
        assert!(exp(-200.0) < 2e-38 && exp(-200.0) >= 0.0);
    }

    #[test]
    fn cos_turns_is_cosine() {
        let mut worst = 0.0f64;
        for i in 0..=(1 << 20) {
            let u = i as f32 / (1 << 20) as f32;
            worst = worst.max((f64::from(cos_turns(u)) - (std::f64::consts::TAU * f64::from(u)).cos()).abs());
        }
        assert!(worst < 2e-7, "{worst}");
    }

    #[test]
    fn rounding_matches_the_standard_library() {
        for x in [-2.5f32, -1.5, -0.5, -0.49, 0.0, 0.49, 0.5, 1.5, 2.5, 3.7, 1e7 + 0.5, -1e8] {
            assert_eq!(round_away(x), x.round(), "{x}");
        }
    }
}
