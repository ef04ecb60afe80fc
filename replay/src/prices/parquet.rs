//! Price histories and Spot Advisor entries to and from Parquet.

use super::{AdvisorEntry, Capacity, PriceHistory, PricePoint};
use crate::ReplayError;
use polars::prelude::*;
use std::path::Path;

/// The history as a polars frame: `time_ns`, `instance_type`, `location`,
/// `capacity` (`spot`, `on-demand`), `price_per_hour`, `currency`.
pub fn to_frame(h: &PriceHistory) -> PolarsResult<DataFrame> {
    let r = &h.rows;
    let cols = vec![
        Column::new("time_ns".into(), r.iter().map(|p| p.time_ns).collect::<Vec<_>>()),
        Column::new("instance_type".into(), r.iter().map(|p| p.instance_type.as_str()).collect::<Vec<_>>()),
        Column::new("location".into(), r.iter().map(|p| p.location.as_str()).collect::<Vec<_>>()),
        Column::new("capacity".into(), r.iter().map(|p| p.capacity.name()).collect::<Vec<_>>()),
        Column::new("price_per_hour".into(), r.iter().map(|p| p.price_per_hour).collect::<Vec<_>>()),
        Column::new("currency".into(), r.iter().map(|p| p.currency.as_str()).collect::<Vec<_>>()),
    ];
    DataFrame::new(r.len(), cols)
}

/// Spot Advisor entries as a polars frame: `snapshot_ns` (null when
/// unknown), `region`, `os`, `instance_type`, `savings_pct`, `band`, `label`.
pub fn advisor_frame(entries: &[AdvisorEntry]) -> PolarsResult<DataFrame> {
    let e = entries;
    let cols = vec![
        Column::new("snapshot_ns".into(), e.iter().map(|x| x.snapshot).collect::<Vec<_>>()),
        Column::new("region".into(), e.iter().map(|x| x.region.as_str()).collect::<Vec<_>>()),
        Column::new("os".into(), e.iter().map(|x| x.os.as_str()).collect::<Vec<_>>()),
        Column::new("instance_type".into(), e.iter().map(|x| x.instance_type.as_str()).collect::<Vec<_>>()),
        Column::new("savings_pct".into(), e.iter().map(|x| x.savings_pct).collect::<Vec<_>>()),
        Column::new("band".into(), e.iter().map(|x| u32::from(x.band)).collect::<Vec<_>>()),
        Column::new("label".into(), e.iter().map(|x| x.label.as_str()).collect::<Vec<_>>()),
    ];
    DataFrame::new(e.len(), cols)
}

/// Reads Spot Advisor entries back from Parquet (as [`write_advisor_parquet`] wrote them).
pub fn read_advisor_parquet(path: &Path) -> Result<Vec<AdvisorEntry>, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not Twin Spot Advisor data")));
    let strs = |name: &str| -> Result<Vec<String>, ReplayError> {
        Ok(col(name)?.str().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let snapshot: Vec<Option<i64>> = col("snapshot_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().collect();
    let savings: Vec<i32> = col("savings_pct")?.i32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect();
    let bands: Vec<u32> = col("band")?.u32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect();
    let (regions, oses, types, labels) = (strs("region")?, strs("os")?, strs("instance_type")?, strs("label")?);
    Ok((0..snapshot.len())
        .map(|i| AdvisorEntry {
            snapshot: snapshot[i],
            region: regions[i].clone(),
            os: oses[i].clone(),
            instance_type: types[i].clone(),
            savings_pct: savings[i],
            band: bands[i].min(4) as u8,
            label: labels[i].clone(),
        })
        .collect())
}

/// Writes Spot Advisor entries as Parquet, whole or not at all.
pub fn write_advisor_parquet(entries: &[AdvisorEntry], path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(advisor_frame(entries), path)
}

/// Writes the history as Parquet, whole or not at all.
pub fn write_parquet(h: &PriceHistory, path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(to_frame(h), path)
}

/// Reads a history back from Parquet (as [`write_parquet`] wrote it).
pub fn read_parquet(path: &Path) -> Result<PriceHistory, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin price history")));
    let strs = |name: &str| -> Result<Vec<String>, ReplayError> {
        Ok(col(name)?.str().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let time = col("time_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect::<Vec<_>>();
    let price = col("price_per_hour")?.f64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(f64::NAN)).collect::<Vec<_>>();
    let (types, locations, capacities, currencies) = (strs("instance_type")?, strs("location")?, strs("capacity")?, strs("currency")?);
    let mut rows = Vec::with_capacity(time.len());
    for (i, (((time_ns, instance_type), location), currency)) in time.into_iter().zip(types).zip(locations).zip(currencies).enumerate() {
        let capacity = Capacity::from_name(&capacities[i]).ok_or_else(|| table(format!("row {i}: capacity `{}`", capacities[i])))?;
        rows.push(PricePoint { time_ns, instance_type, location, capacity, price_per_hour: price[i], currency });
    }
    Ok(PriceHistory::new(rows))
}
