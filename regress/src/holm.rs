//! Holm-Bonferroni: many KPIs and scenarios are judged at once, and the
//! chance that any "no difference" is called a difference stays at alpha.

/// Holm's step-down adjusted p-values, in the order given: the smallest
/// p times m, the next times m − 1, ..., made monotone and capped at 1.
/// A KPI is significant at `alpha` when its adjusted p is below it.
pub fn adjust(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn holm_by_hand() {
        let a = adjust(&[0.01, 0.04, 0.03, 0.005]);
        let expect = [0.03, 0.06, 0.06, 0.02];
        for (x, e) in a.iter().zip(expect) {
            assert!((x - e).abs() < 1e-12, "{a:?}");
        }
        assert!(adjust(&[]).is_empty());
        assert_eq!(adjust(&[0.5]), vec![0.5]);
    }

    proptest! {
        #[test]
        fn adjusted_is_no_smaller_capped_and_keeps_the_order(p in proptest::collection::vec(0.0f64..=1.0, 0..30)) {
            let a = adjust(&p);
            for (x, y) in a.iter().zip(&p) {
                prop_assert!(*x >= *y && *x <= 1.0);
            }
            for i in 0..p.len() {
                for j in 0..p.len() {
                    if p[i] < p[j] {
                        prop_assert!(a[i] <= a[j]);
                    }
                }
            }
        }
    }
}
