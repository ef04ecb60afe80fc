//! Holt-Winters forecasting with an additive season: the predictive
//! autoscaler's model of a service's arrival rate.

/// An additive Holt-Winters model over regularly spaced observations.
#[derive(Clone, Debug)]
pub struct HoltWinters {
    alpha: f64,
    beta: f64,
    gamma: f64,
    level: f64,
    trend: f64,
    season: Vec<f64>,
    /// Observations seen.
    n: usize,
}

impl HoltWinters {
    /// A model with `period` observations per season and the given smoothing.
    pub fn new(period: usize, alpha: f64, beta: f64, gamma: f64) -> HoltWinters {
        HoltWinters { alpha, beta, gamma, level: 0.0, trend: 0.0, season: vec![0.0; period.max(1)], n: 0 }
    }

    /// Observations per season.
    pub fn period(&self) -> usize {
        self.season.len()
    }

    /// Observations seen so far.
    pub fn observations(&self) -> usize {
        self.n
    }

    /// Adds the next observation.
    ///
    /// The first season only gathers: at its end the level is its mean and
    /// each slot's seasonal term its difference from that mean (the classical
    /// initialisation; smoothing from the first observation instead leaves
    /// the season biased by the level's lag for many seasons).
    pub fn observe(&mut self, y: f64) {
        let m = self.season.len();
        let i = self.n % m;
        if self.n < m {
            // Slots hold the raw observations until the season is complete.
            self.season[i] = y;
            self.level += (y - self.level) / (self.n + 1) as f64;
            if self.n == m - 1 {
                let mean = self.level;
                for s in &mut self.season {
                    *s -= mean;
                }
            }
        } else {
            let level = self.alpha * (y - self.season[i]) + (1.0 - self.alpha) * (self.level + self.trend);
            self.trend = self.beta * (level - self.level) + (1.0 - self.beta) * self.trend;
            self.season[i] = self.gamma * (y - level) + (1.0 - self.gamma) * self.season[i];
            self.level = level;
        }
        self.n += 1;
    }

    /// The forecast for the observation `h + 1` steps after the last one (0: the next), never negative.
    pub fn forecast(&self, h: usize) -> f64 {
        let m = self.season.len();
        // The season slot of observation n + h (the last one was n − 1).
        if self.n < m {
            // Still gathering the first season: the mean so far.
            return self.level.max(0.0);
        }
        let slot = (self.n + h) % m;
        (self.level + (h as f64 + 1.0) * self.trend + self.season[slot]).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    #[test]
    fn learns_a_daily_cycle_and_forecasts_the_peak_ahead() {
        let period = 96; // 15-minute steps
        let truth = |t: usize| 10.0 + 8.0 * (TAU * t as f64 / period as f64).sin();
        let mut hw = HoltWinters::new(period, 0.3, 0.01, 0.3);
        for t in 0..period * 5 {
            hw.observe(truth(t));
        }
        let now = period * 5;
        for h in [0, 4, 12] {
            let f = hw.forecast(h);
            assert!((f - truth(now + h)).abs() < 1.0, "h={h}: {f} vs {}", truth(now + h));
        }
    }

    #[test]
    fn a_flat_series_forecasts_flat_and_never_negative() {
        let mut hw = HoltWinters::new(10, 0.5, 0.1, 0.5);
        for _ in 0..50 {
            hw.observe(0.0);
        }
        assert_eq!(hw.forecast(5), 0.0);
    }
}
