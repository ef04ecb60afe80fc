//! Token-length distributions for prompts and outputs.

use crate::rng::SimRng;
use crate::scenario::spec::TokenSpec;
use rand::Rng;
use rand_distr::{Distribution, Geometric, StandardNormal};

/// Longest sequence a log-normal draw may give when the scenario sets no cap.
pub const DEFAULT_MAX_TOKENS: u32 = 32_768;

/// A distribution of token counts, always at least 1.
#[derive(Clone, Debug)]
pub struct TokenDist {
    spec: TokenSpec,
    geometric: Option<Geometric>,
}

impl TokenDist {
    /// From a scenario's token spec (already checked).
    pub fn new(spec: &TokenSpec) -> TokenDist {
        let geometric = match spec {
            TokenSpec::Geometric { mean } => Geometric::new((1.0 / mean).clamp(f64::MIN_POSITIVE, 1.0)).ok(),
            _ => None,
        };
        TokenDist { spec: spec.clone(), geometric }
    }

    /// The mean count (before clamping, for log-normals).
    pub fn mean(&self) -> f64 {
        match &self.spec {
            TokenSpec::Fixed(n) => f64::from(*n),
            TokenSpec::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            TokenSpec::Lognormal { median, sigma, .. } => median * (sigma * sigma / 2.0).exp(),
            TokenSpec::Geometric { mean } => *mean,
        }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut SimRng) -> u32 {
        match &self.spec {
            TokenSpec::Fixed(n) => (*n).max(1),
            TokenSpec::Uniform { min, max } => rng.random_range((*min).max(1)..=(*max).max(1)),
            TokenSpec::Lognormal { median, sigma, max } => {
                let z: f64 = StandardNormal.sample(rng);
                let v = (median * (sigma * z).exp()).round();
                let cap = f64::from(max.unwrap_or(DEFAULT_MAX_TOKENS).max(1));
                v.clamp(1.0, cap) as u32
            }
            TokenSpec::Geometric { .. } => match &self.geometric {
                // Failures before the first success, plus the success: support 1, 2, ...
                Some(g) => u32::try_from(g.sample(rng).saturating_add(1)).unwrap_or(u32::MAX),
                None => 1,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    #[test]
    fn draws_match_their_means() {
        let mut rng = RngStreams::new(5).stream("t");
        for spec in [
            TokenSpec::Fixed(100),
            TokenSpec::Uniform { min: 10, max: 30 },
            TokenSpec::Lognormal { median: 200.0, sigma: 0.5, max: None },
            TokenSpec::Geometric { mean: 150.0 },
        ] {
            let d = TokenDist::new(&spec);
            let n = 200_000;
            let mean = (0..n).map(|_| f64::from(d.sample(&mut rng))).sum::<f64>() / n as f64;
            assert!((mean / d.mean() - 1.0).abs() < 0.01, "{spec:?}: {mean} vs {}", d.mean());
        }
    }

    #[test]
    fn lognormal_respects_its_cap() {
        let mut rng = RngStreams::new(5).stream("t");
        let d = TokenDist::new(&TokenSpec::Lognormal { median: 1000.0, sigma: 3.0, max: Some(2000) });
        assert!((0..10_000).all(|_| (1..=2000).contains(&d.sample(&mut rng))));
    }
}
