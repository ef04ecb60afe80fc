//! Fitting arrival models to a request trace: Poisson, a two-state
//! Markov-modulated Poisson process (MMPP), and a diurnal cycle.
//!
//! The MMPP is fitted by matching the trace's mean rate and its index of
//! dispersion (IDC) of counts at two bin widths, `short` and `long` (1 s and
//! 60 s by default), to the closed form for an MMPP(2) (Heffes and
//! Lucantoni, 1986):
//!
//! `IDC(t) = 1 + A · g(s t)`, `g(x) = 1 − (1 − e^(−x)) / x`,
//! `A = 2 π₁ π₂ (λ₂ − λ₁)² / (λ̄ s)`,
//!
//! with `s = r₁ + r₂` the sum of the switching rates and `π` the share of
//! time in each state. The ratio of the two excesses fixes `s`; the short
//! one then fixes `A`. The share of time in the burst state is the share of
//! short bins with more than twice the mean count (capped so the calm rate
//! stays ≥ 0), which leaves the two rates.

use crate::requests::{RequestLog, bin_counts, index_of_dispersion};

/// A fitted two-state MMPP: calm (0) and burst (1).
#[derive(Clone, Debug, PartialEq)]
pub struct MmppFit {
    /// Requests per second in each state.
    pub rates: [f64; 2],
    /// Mean seconds spent in each state before switching.
    pub mean_durations_s: [f64; 2],
}

impl MmppFit {
    /// The long-run mean rate.
    pub fn mean_rate(&self) -> f64 {
        let [d0, d1] = self.mean_durations_s;
        (self.rates[0] * d0 + self.rates[1] * d1) / (d0 + d1)
    }

    /// The closed-form index of dispersion of counts in bins of `t` seconds.
    pub fn idc(&self, t: f64) -> f64 {
        let (r01, r10) = (1.0 / self.mean_durations_s[0], 1.0 / self.mean_durations_s[1]);
        let s = r01 + r10;
        let (p0, p1) = (r10 / s, r01 / s);
        let mean = self.mean_rate();
        let a = 2.0 * p0 * p1 * (self.rates[1] - self.rates[0]).powi(2) / (mean * s);
        1.0 + a * g(s * t)
    }
}

fn g(x: f64) -> f64 {
    if x < 1e-8 { x / 2.0 } else { 1.0 - (1.0 - (-x).exp()) / x }
}

/// Why a model could not be fitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// Too few requests or too short a span.
    #[error("too little data: {0}")]
    TooLittle(String),
    /// The trace is not over-dispersed at both widths in a way an MMPP(2) can match.
    #[error("an MMPP(2) cannot match this dispersion: {0}")]
    NoMmpp(String),
}

/// The trace's mean rate, requests per second.
pub fn poisson(log: &RequestLog) -> Result<f64, FitError> {
    if log.len() < 2 || log.mean_rate() <= 0.0 {
        return Err(FitError::TooLittle(format!("{} requests", log.len())));
    }
    Ok(log.mean_rate())
}

/// Fits an MMPP(2) matching the mean rate and the IDC at `short_s` and `long_s` seconds.
pub fn mmpp(log: &RequestLog, short_s: f64, long_s: f64) -> Result<MmppFit, FitError> {
    let mean = poisson(log)?;
    let span_s = log.offsets_ns.last().copied().unwrap_or(0) as f64 / 1e9;
    if span_s < 10.0 * long_s {
        return Err(FitError::TooLittle(format!("a {span_s:.0} s trace for {long_s} s bins (needs ten)")));
    }
    let bin = |s: f64| (s * 1e9) as u64;
    let (i1, i2) = (index_of_dispersion(&log.offsets_ns, bin(short_s)), index_of_dispersion(&log.offsets_ns, bin(long_s)));
    if !(i1 > 1.0 && i2 > i1) {
        return Err(FitError::NoMmpp(format!("IDC {i1:.2} at {short_s} s and {i2:.2} at {long_s} s (needs 1 < short < long)")));
    }
    let ratio = (i2 - 1.0) / (i1 - 1.0);
    let k = long_s / short_s;
    if ratio >= k {
        return Err(FitError::NoMmpp(format!("the IDC grows {ratio:.1}× from {short_s} s to {long_s} s, faster than any MMPP(2) ({k}×)")));
    }
    // g(k s t1) / g(s t1) falls from k to 1 as s grows: bisect on log s.
    let f = |s: f64| g(s * long_s) / g(s * short_s);
    let (mut lo, mut hi) = (1e-9f64.ln(), 1e6f64.ln());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid.exp()) > ratio { lo = mid } else { hi = mid }
    }
    let s = (0.5 * (lo + hi)).exp();
    let a = (i1 - 1.0) / g(s * short_s);
    // Burst share: short bins over twice the mean count, kept where the calm rate is ≥ 0.
    let counts = bin_counts(&log.offsets_ns, bin(short_s));
    let per_bin = mean * short_s;
    let busy = counts.iter().filter(|&&c| c as f64 > 2.0 * per_bin).count() as f64 / counts.len().max(1) as f64;
    let cap = 2.0 * mean / (a * s + 2.0 * mean);
    let p1 = busy.clamp(1e-4, 0.999 * cap);
    let p0 = 1.0 - p1;
    let d = (a * mean * s / (2.0 * p0 * p1)).sqrt();
    let calm = (mean - p1 * d).max(0.0);
    Ok(MmppFit { rates: [calm, calm + d], mean_durations_s: [1.0 / (p1 * s), 1.0 / (p0 * s)] })
}

/// A fitted diurnal cycle: `rate(t) = mean × (1 + amplitude × cos(2π (t − peak) / 24 h))`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiurnalFit {
    /// Mean requests per second.
    pub mean_rate: f64,
    /// Relative swing, 0 to 1.
    pub amplitude: f64,
    /// Seconds after midnight (UTC, or after the trace start when it has no clock) of the peak.
    pub peak_s: f64,
}

/// Fits a daily cycle by the first Fourier component of hourly counts; needs a day of data.
pub fn diurnal(log: &RequestLog) -> Result<DiurnalFit, FitError> {
    let mean = poisson(log)?;
    let span_s = log.offsets_ns.last().copied().unwrap_or(0) as f64 / 1e9;
    if span_s < 86_400.0 {
        return Err(FitError::TooLittle(format!("a {:.1} h trace (a daily cycle needs 24 h)", span_s / 3600.0)));
    }
    let start_s = log.start_ns.map_or(0.0, |s| s.rem_euclid(86_400_000_000_000) as f64 / 1e9);
    let days = (span_s / 86_400.0).floor();
    let (mut c, mut sn, mut n) = (0.0, 0.0, 0.0);
    for &t in &log.offsets_ns {
        let secs = t as f64 / 1e9;
        if secs >= days * 86_400.0 {
            break;
        }
        let phase = std::f64::consts::TAU * (start_s + secs) / 86_400.0;
        c += phase.cos();
        sn += phase.sin();
        n += 1.0;
    }
    let amplitude = (2.0 * (c * c + sn * sn).sqrt() / n).min(1.0);
    let peak_s = (sn.atan2(c).rem_euclid(std::f64::consts::TAU)) / std::f64::consts::TAU * 86_400.0;
    Ok(DiurnalFit { mean_rate: mean, amplitude, peak_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_matches_the_fit_it_came_from() {
        // A synthetic bursty log: 2 s bursts of 40/s every 60 s over a 1/s background.
        let mut offsets = Vec::new();
        for k in 0..600u64 {
            for i in 0..60u64 {
                offsets.push(k * 60_000_000_000 + i * 1_000_000_000 + 500_000_000);
            }
            for i in 0..80u64 {
                offsets.push(k * 60_000_000_000 + 10_000_000_000 + i * 25_000_000);
            }
        }
        offsets.sort_unstable();
        let first = offsets[0];
        let log = RequestLog { offsets_ns: offsets.iter().map(|t| t - first).collect(), ..RequestLog::default() };
        let fit = mmpp(&log, 1.0, 10.0).unwrap();
        let i1 = index_of_dispersion(&log.offsets_ns, 1_000_000_000);
        let i10 = index_of_dispersion(&log.offsets_ns, 10_000_000_000);
        assert!((fit.idc(1.0) / i1 - 1.0).abs() < 1e-6, "{} vs {i1}", fit.idc(1.0));
        assert!((fit.idc(10.0) / i10 - 1.0).abs() < 1e-6);
        assert!((fit.mean_rate() / log.mean_rate() - 1.0).abs() < 1e-6);
        assert!(fit.rates[0] >= 0.0 && fit.rates[1] > fit.rates[0]);
        assert!(matches!(diurnal(&log), Err(FitError::TooLittle(_))));
    }

    #[test]
    fn a_day_with_a_peak_at_14h_is_found() {
        // Counts per minute following 1 + 0.5 cos(2π (t − 14 h) / 24 h), as evenly spaced arrivals.
        let mut offsets = Vec::new();
        for m in 0..(2 * 1440u64) {
            let t = m as f64 * 60.0;
            let rate = 1.0 + 0.5 * (std::f64::consts::TAU * (t - 14.0 * 3600.0) / 86_400.0).cos();
            let n = (rate * 60.0).round() as u64;
            for i in 0..n {
                offsets.push(m * 60_000_000_000 + i * 60_000_000_000 / n.max(1));
            }
        }
        let log = RequestLog { offsets_ns: offsets, start_ns: Some(0), ..RequestLog::default() };
        let d = diurnal(&log).unwrap();
        assert!((d.amplitude - 0.5).abs() < 0.02, "{d:?}");
        assert!((d.peak_s / 3600.0 - 14.0).abs() < 0.1, "{d:?}");
    }
}
