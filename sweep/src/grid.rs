//! The grid: parameters varied along axes (`--vary spot_share=0..1:11`),
//! every combination a point.

use crate::SweepError;
use crate::model::PointParams;

/// The keys an axis may vary, with what each means.
pub const KEYS: &[(&str, &str)] = &[
    ("spot_share", "share of replicas asked for on spot, 0 to 1"),
    ("replicas", "a fixed replica count (turns the autoscaler off)"),
    ("min_replicas", "the autoscaler's floor"),
    ("max_replicas", "the autoscaler's ceiling"),
    ("target_concurrency", "in-flight requests per replica the autoscaler aims at"),
    ("load", "multiplier on the request rate"),
    ("spot_price", "mean spot price per node-hour"),
    ("interruption_rate", "spot reclaims per node-hour"),
    ("od_price", "on-demand price per node-hour"),
    ("committed_nodes", "reserved or on-prem nodes, always up and billed, used before on-demand"),
    ("committed_price", "price of a committed node per hour"),
    ("provisioning_s", "mean seconds from asking for a node to its being ready"),
    ("timeout_s", "queue timeout, seconds"),
];

/// One axis: a key and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The parameter.
    pub key: String,
    /// Its values, in order.
    pub values: Vec<f64>,
}

impl Axis {
    /// Parses `key=a..b:n` (n values from a to b, evenly spaced), `key=a..b`
    /// (integers a to b), or `key=v1,v2,...`.
    pub fn parse(text: &str) -> Result<Axis, SweepError> {
        let bad = |why: &str| SweepError::Axis { text: text.to_string(), why: why.to_string() };
        let (key, range) = text.split_once('=').ok_or_else(|| bad("write it as key=a..b:n, such as spot_share=0..1:11"))?;
        let key = key.trim();
        if !KEYS.iter().any(|(k, _)| *k == key) {
            return Err(SweepError::UnknownKey {
                key: key.to_string(),
                known: KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
            });
        }
        let num =
            |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| bad(&format!("`{}` is not a number", s.trim())));
        let values = if let Some((a, rest)) = range.split_once("..") {
            let (b, n) = match rest.split_once(':') {
                Some((b, n)) => {
                    (num(b)?, Some(n.trim().parse::<usize>().map_err(|_| bad(&format!("`{}` is not a count of values", n.trim())))?))
                }
                None => (num(rest)?, None),
            };
            let a = num(a)?;
            if b < a {
                return Err(bad("the range runs backwards: write the smaller value first"));
            }
            match n {
                Some(0) => return Err(bad("an axis needs at least one value")),
                Some(1) => vec![a],
                Some(n) => (0..n).map(|i| a + (b - a) * i as f64 / (n - 1) as f64).collect(),
                None => {
                    if a.fract() != 0.0 || b.fract() != 0.0 {
                        return Err(bad("a range without a count steps by 1 between integers: add `:n` for n values"));
                    }
                    let mut v = Vec::new();
                    let mut x = a;
                    while x <= b && v.len() <= MAX_VALUES {
                        v.push(x);
                        x += 1.0;
                    }
                    v
                }
            }
        } else {
            range.split(',').map(num).collect::<Result<Vec<_>, _>>()?
        };
        if values.is_empty() {
            return Err(bad("an axis needs at least one value"));
        }
        if values.len() > MAX_VALUES {
            return Err(bad(&format!("more than {MAX_VALUES} values on one axis")));
        }
        for &v in &values {
            check(text, key, v)?;
        }
        Ok(Axis { key: key.to_string(), values })
    }
}

/// Most values on one axis.
pub const MAX_VALUES: usize = 10_000;

/// Whether `v` is in range for `key` (the axis `text` says it).
fn check(text: &str, key: &str, v: f64) -> Result<(), SweepError> {
    let ok = match key {
        "spot_share" => (0.0..=1.0).contains(&v),
        "replicas" | "min_replicas" | "max_replicas" | "committed_nodes" => v >= 0.0 && v.fract() == 0.0 && v <= 10_000.0,
        "target_concurrency" | "load" | "provisioning_s" | "timeout_s" => v > 0.0,
        _ => v >= 0.0,
    };
    if ok {
        Ok(())
    } else {
        let meaning = KEYS.iter().find(|k| k.0 == key).map_or("", |k| k.1);
        Err(SweepError::OutOfRange { text: text.to_string(), key: key.to_string(), value: v, meaning })
    }
}

/// Sets `key` to `v` in `p` (already checked).
pub fn apply(p: &mut PointParams, key: &str, v: f64) {
    let v32 = v as f32;
    match key {
        "spot_share" => p.spot_share = v32,
        "replicas" => {
            p.replicas_min = v32;
            p.replicas_max = v32;
            p.target_concurrency = 0.0;
        }
        "min_replicas" => p.replicas_min = v32,
        "max_replicas" => p.replicas_max = v32,
        "target_concurrency" => p.target_concurrency = v32,
        "load" => {
            p.rate_calm *= v32;
            p.rate_burst *= v32;
        }
        "spot_price" => {
            let scale = if p.spot_mean > 0.0 { v32 / p.spot_mean } else { 1.0 };
            p.spot_mean = v32;
            p.spot_vol *= scale;
            p.spot_floor *= scale;
            p.spot_cap = if p.spot_cap >= f32::MAX / 2.0 { p.spot_cap } else { p.spot_cap * scale };
        }
        "interruption_rate" => p.p_interrupt = (1.0 - (-v * f64::from(p.dt_s) / 3_600.0).exp()) as f32,
        "od_price" => p.od_price = v32,
        "committed_nodes" => p.committed_nodes = v32,
        "committed_price" => p.committed_price = v32,
        "provisioning_s" => p.p_ready = (1.0 - (-f64::from(p.dt_s) / v).exp()) as f32,
        "timeout_s" => p.timeout_s = v32,
        _ => {}
    }
}

/// Every combination of the axes' values, the last axis varying fastest;
/// one point (the baseline) when there are no axes.
pub fn points(axes: &[Axis]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = vec![Vec::new()];
    for a in axes {
        out = out.into_iter().flat_map(|prefix| a.values.iter().map(move |v| [prefix.clone(), vec![*v]].concat())).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_ranges_counts_and_lists() {
        assert_eq!(Axis::parse("spot_share=0..1:5").unwrap().values, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(Axis::parse("replicas=4..16:4").unwrap().values, vec![4.0, 8.0, 12.0, 16.0]);
        assert_eq!(Axis::parse("replicas=2..4").unwrap().values, vec![2.0, 3.0, 4.0]);
        assert_eq!(Axis::parse("load=0.5,1,2").unwrap().values, vec![0.5, 1.0, 2.0]);
        assert_eq!(Axis::parse("committed_nodes=0..2").unwrap().values, vec![0.0, 1.0, 2.0]);
        assert!(Axis::parse("committed_nodes=0.5").is_err());
        let mut p = PointParams::default();
        apply(&mut p, "committed_nodes", 3.0);
        apply(&mut p, "committed_price", 24.77);
        assert_eq!((p.committed_nodes, p.committed_price), (3.0, 24.77));
        let p = points(&[Axis::parse("replicas=1..2").unwrap(), Axis::parse("spot_share=0,1").unwrap()]);
        assert_eq!(p, vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![2.0, 0.0], vec![2.0, 1.0]]);
    }

    #[test]
    fn bad_axes_say_what_is_wrong() {
        let e = Axis::parse("spot_shar=0..1:3").unwrap_err().to_string();
        assert!(e.contains("spot_shar") && e.contains("spot_share, replicas"), "{e}");
        let e = Axis::parse("spot_share=1..0:3").unwrap_err().to_string();
        assert!(e.contains("backwards"), "{e}");
        let e = Axis::parse("spot_share=0..2:3").unwrap_err().to_string();
        assert_eq!(e, "--vary spot_share=0..2:3: spot_share = 2 is out of range (share of replicas asked for on spot, 0 to 1)");
        let e = Axis::parse("timeout_s=30,0").unwrap_err().to_string();
        assert_eq!(e, "--vary timeout_s=30,0: timeout_s = 0 is out of range (queue timeout, seconds)");
        assert!(Axis::parse("spot_share=0..1:0").unwrap_err().to_string().contains("at least one"));
        assert!(Axis::parse("replicas=1.5..3").is_err());
        assert!(Axis::parse("load").is_err());
    }
}
