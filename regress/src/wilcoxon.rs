//! The Wilcoxon signed-rank test on paired differences, exact, and the
//! Hodges-Lehmann estimate of the median difference with its exact
//! confidence interval.
//!
//! Exact means the null distribution is counted, not approximated: under
//! "no difference" each nonzero difference is as likely positive as
//! negative, so the sum of the ranks of the positive ones has the
//! distribution of a random subset sum of the ranks. Ties get mid-ranks,
//! doubled so they stay integers; zeros are dropped (Wilcoxon's rule).

/// Most nonzero differences the test counts exactly; beyond, the normal
/// approximation (with tie and continuity corrections) is as good.
pub const EXACT_MAX: usize = 400;

/// The doubled mid-ranks of `|x|`, in `x`'s order (ties share their mean rank).
fn doubled_ranks(x: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()));
    let mut ranks = vec![0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]].abs() == x[order[i]].abs() {
            j += 1;
        }
        // Positions i..=j hold ranks i+1..=j+1, whose mean doubled is i+j+2.
        for &k in &order[i..=j] {
            ranks[k] = i + j + 2;
        }
        i = j + 1;
    }
    ranks
}

/// The null distribution of the sum of a random subset of `ranks`: the
/// probability of each sum from 0 to the total.
fn subset_sum_distribution(ranks: &[usize]) -> Vec<f64> {
    let total: usize = ranks.iter().sum();
    let mut p = vec![0.0; total + 1];
    p[0] = 1.0;
    let mut reach = 0;
    for &r in ranks {
        reach += r;
        // Each rank is in the subset (positive) or not, with probability ½.
        for s in (0..=reach).rev() {
            let with = if s >= r { p[s - r] } else { 0.0 };
            p[s] = 0.5 * (p[s] + with);
        }
    }
    p
}

/// The two-sided p-value of the signed-rank test on paired differences
/// `d` (candidate minus baseline): 1 when every difference is zero.
/// Non-finite differences are ignored.
pub fn signed_rank_p(d: &[f64]) -> f64 {
    let nz: Vec<f64> = d.iter().copied().filter(|x| x.is_finite() && *x != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return 1.0;
    }
    let ranks = doubled_ranks(&nz);
    let w: usize = nz.iter().zip(&ranks).filter(|(x, _)| **x > 0.0).map(|(_, r)| r).sum();
    let p = if n <= EXACT_MAX {
        let dist = subset_sum_distribution(&ranks);
        let le: f64 = dist[..=w].iter().sum();
        let ge: f64 = dist[w..].iter().sum();
        2.0 * le.min(ge)
    } else {
        normal_p(&ranks, w)
    };
    p.min(1.0)
}

/// The normal approximation, on doubled ranks, with the tie correction
/// carried by the ranks' own variance and a continuity correction.
fn normal_p(ranks: &[usize], w: usize) -> f64 {
    let mean = ranks.iter().sum::<usize>() as f64 / 2.0;
    let var = ranks.iter().map(|r| (*r as f64).powi(2)).sum::<f64>() / 4.0;
    let z = ((w as f64 - mean).abs() - 1.0).max(0.0) / var.sqrt();
    2.0 * (1.0 - standard_normal_cdf(z))
}

/// Φ(z) through the complementary error function (Abramowitz and Stegun
/// 7.1.26, error below 1.5e-7: enough for a p-value).
fn standard_normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 { 1.0 - 0.5 * erfc } else { 0.5 * erfc }
}

/// The median difference, with a confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shift {
    /// The Hodges-Lehmann estimate: the median of the Walsh averages.
    pub estimate: f64,
    /// The interval's lower end (−∞ when too few pairs to bound it).
    pub low: f64,
    /// Its upper end (+∞ when too few pairs).
    pub high: f64,
}

/// The largest `c` with P(W⁺ ≤ c) ≤ `tail` for `n` untied pairs, if any.
fn critical(n: usize, tail: f64) -> Option<usize> {
    // Undoubled ranks 1..=n: the subset sums of 2, 4, ..., 2n halved.
    let dist = subset_sum_distribution(&(1..=n).map(|r| 2 * r).collect::<Vec<_>>());
    let mut acc = 0.0;
    let mut c = None;
    for (s2, p) in dist.iter().enumerate().step_by(2) {
        acc += p;
        if acc > tail * (1.0 + 1e-12) {
            break;
        }
        c = Some(s2 / 2);
    }
    c
}

/// The Hodges-Lehmann estimate of the median of the paired differences
/// `d` and its exact `confidence` interval (from the signed-rank
/// distribution: the Walsh averages between the critical ranks). None when
/// `d` holds nothing finite.
pub fn hodges_lehmann(d: &[f64], confidence: f64) -> Option<Shift> {
    let d: Vec<f64> = d.iter().copied().filter(|x| x.is_finite()).collect();
    let n = d.len();
    if n == 0 {
        return None;
    }
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((d[i] + d[j]) / 2.0);
        }
    }
    walsh.sort_by(f64::total_cmp);
    let m = walsh.len();
    let estimate = if m % 2 == 1 { walsh[m / 2] } else { (walsh[m / 2 - 1] + walsh[m / 2]) / 2.0 };
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    let (low, high) = if n <= EXACT_MAX {
        match critical(n, tail) {
            // P(W⁺ ≤ c) ≤ tail: the interval runs from the (c+1)th smallest to the (c+1)th largest.
            Some(c) if c < m / 2 => (walsh[c], walsh[m - 1 - c]),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        }
    } else {
        let nf = n as f64;
        let z = inverse_normal(1.0 - tail);
        let c = (nf * (nf + 1.0) / 4.0 - z * (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt()).floor().max(0.0) as usize;
        (walsh[c.min(m - 1)], walsh[m - 1 - c.min(m - 1)])
    };
    Some(Shift { estimate, low, high })
}

/// z with Φ(z) = `p`, by bisection on [`standard_normal_cdf`].
fn inverse_normal(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if standard_normal_cdf(mid) < p { lo = mid } else { hi = mid }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_p_values_match_the_tables() {
        // Every difference positive: only one of 2ⁿ sign patterns is as extreme on each side.
        assert_eq!(signed_rank_p(&[1.0, 2.0, 3.0, 4.0, 5.0]), 2.0 / 32.0);
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(signed_rank_p(&ten), 2.0 / 1024.0);
        // Mirror images give the same p.
        let neg: Vec<f64> = ten.iter().map(|x| -x).collect();
        assert_eq!(signed_rank_p(&neg), signed_rank_p(&ten));
        // No difference at all: nothing to see.
        assert_eq!(signed_rank_p(&[0.0; 20]), 1.0);
        // Balanced signs: far from significant.
        assert!(signed_rank_p(&[1.0, -1.0, 2.0, -2.0, 3.0, -3.0]) > 0.9);
        // The classic n = 20, α = 0.05 (two-sided) critical value is 52.
        assert_eq!(critical(20, 0.025), Some(52));
        assert_eq!(critical(10, 0.025), Some(8));
        assert_eq!(critical(5, 0.025), None, "five pairs cannot reach 95% two-sided");
    }

    #[test]
    fn ties_get_mid_ranks() {
        assert_eq!(doubled_ranks(&[3.0, -1.0, 1.0, 2.0]), vec![8, 3, 3, 6]);
        // A tie across signs: ranks 1.5 and 1.5, then 3.
        let p = signed_rank_p(&[1.0, -1.0, 2.0]);
        assert!((0.0..=1.0).contains(&p));
    }

    #[test]
    fn the_normal_approximation_agrees_with_the_exact_count_where_both_apply() {
        let d: Vec<f64> = (0..300).map(|i| f64::from(i % 17) - 7.0 + f64::from(i) * 0.001).collect();
        let nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
        let ranks = doubled_ranks(&nz);
        let w: usize = nz.iter().zip(&ranks).filter(|(x, _)| **x > 0.0).map(|(_, r)| r).sum();
        let exact = signed_rank_p(&d);
        assert!((normal_p(&ranks, w) - exact).abs() < 0.01, "{} vs {exact}", normal_p(&ranks, w));
    }

    #[test]
    fn hodges_lehmann_of_a_constant_shift_is_that_shift() {
        let s = hodges_lehmann(&[2.5; 20], 0.95).unwrap();
        assert_eq!((s.estimate, s.low, s.high), (2.5, 2.5, 2.5));
        let few = hodges_lehmann(&[1.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!((few.low, few.high), (f64::NEG_INFINITY, f64::INFINITY));
        let d: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = hodges_lehmann(&d, 0.95).unwrap();
        assert_eq!(s.estimate, 10.5);
        assert!(s.low < 10.5 && s.high > 10.5 && s.low > 1.0 && s.high < 20.0, "{s:?}");
    }

    proptest! {
        #[test]
        fn p_is_a_probability_and_the_interval_holds_the_estimate(d in proptest::collection::vec(-1e3f64..1e3, 0..60)) {
            let p = signed_rank_p(&d);
            prop_assert!((0.0..=1.0).contains(&p));
            if let Some(s) = hodges_lehmann(&d, 0.95) {
                prop_assert!(s.low <= s.estimate && s.estimate <= s.high);
            }
        }
    }
}
