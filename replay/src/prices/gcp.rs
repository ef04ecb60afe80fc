//! GCP's change-point CSV of GPU machine prices.

use super::{Capacity, PriceFormat, PriceHistory, PricePoint, parse_day, parse_price};
use crate::csv::csv_rows;
use crate::{ReadOptions, ReadReport, ReplayError};

/// Reads the GCP change-point CSV: each row an on-demand point and, when
/// `spot_usd_per_hour` is not empty, a spot point, at the snapshot date's
/// midnight UTC. `report.rows` counts rows, the history's length points.
pub fn read_gcp_changes(text: &str, origin: &str, opts: &ReadOptions) -> Result<(PriceHistory, ReadReport), ReplayError> {
    let mut report = ReadReport { format: PriceFormat::GcpChanges.name().into(), ..ReadReport::default() };
    let required = ["snapshot_date", "machine_type", "region", "ondemand_usd_per_hour", "spot_usd_per_hour"];
    let hint = "the GCP change-point CSV's columns are snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour";
    let rows = csv_rows(text, origin, opts, &mut report, &required, hint, |h, f, _| {
        let time_ns = parse_day("snapshot_date", h.get(f, "snapshot_date")?)?;
        let machine = h.get(f, "machine_type")?;
        let region = h.get(f, "region")?;
        if machine.is_empty() || region.is_empty() {
            return Err((Some(if machine.is_empty() { "machine_type" } else { "region" }.into()), "empty".into()));
        }
        let od = parse_price("ondemand_usd_per_hour", h.get(f, "ondemand_usd_per_hour")?)?;
        let spot = parse_price("spot_usd_per_hour", h.get(f, "spot_usd_per_hour")?)?;
        if od.is_none() && spot.is_none() {
            return Err((None, "neither an on-demand nor a spot price".into()));
        }
        let point = |capacity, price_per_hour| PricePoint {
            time_ns,
            instance_type: machine.into(),
            location: region.into(),
            capacity,
            price_per_hour,
            currency: "USD".into(),
        };
        Ok(Some([od.map(|p| point(Capacity::OnDemand, p)), spot.map(|p| point(Capacity::Spot, p))]))
    })?;
    Ok((PriceHistory::new(rows.into_iter().flatten().flatten().collect()), report))
}
