//! Markets: what capacity costs over time, and when spot capacity goes away.

/// The monthly share of instances interrupted that an AWS Spot Advisor band
/// stands for: the middle of the band (`">20%"` is taken as 25%).
pub fn band_monthly_fraction(band: &str) -> Option<f64> {
    match band.trim() {
        "<5%" => Some(0.025),
        "5-10%" => Some(0.075),
        "10-15%" => Some(0.125),
        "15-20%" => Some(0.175),
        ">20%" => Some(0.25),
        _ => None,
    }
}
