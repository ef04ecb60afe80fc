//! Canonical telemetry to and from Parquet (through polars), written atomically.

use crate::{Field, ReplayError, Telemetry};
use polars::prelude::*;
use std::path::Path;

/// The telemetry as a polars frame, canonical column names and order.
pub fn to_frame(t: &Telemetry) -> PolarsResult<DataFrame> {
    let names: Vec<Option<&str>> = t.gpu.iter().map(|g| t.names.get(g).map(String::as_str)).collect();
    let mut cols: Vec<Column> =
        vec![Column::new("time_ns".into(), &t.time_ns), Column::new("gpu".into(), &t.gpu), Column::new("gpu_name".into(), names)];
    for f in Field::ALL {
        cols.push(Column::new(f.column().into(), t.column(f)));
    }
    cols.push(Column::new("throttle_reasons".into(), &t.throttle_reasons));
    DataFrame::new(t.len(), cols)
}

/// Encodes a frame as Parquet into any writer.
pub fn encode(df: &mut DataFrame, w: impl std::io::Write) -> PolarsResult<()> {
    ParquetWriter::new(w).finish(df).map(|_| ())
}

/// Writes canonical telemetry as Parquet, whole or not at all.
pub fn write(t: &Telemetry, path: &Path) -> Result<(), ReplayError> {
    let mut df = to_frame(t).map_err(|e| ReplayError::Table { path: path.to_path_buf(), message: e.to_string() })?;
    twin_export::write_atomically(path, |w| encode(&mut df, w)).map_err(|e| match e {
        twin_export::ExportError::Io { path, source } => ReplayError::Io { path, source },
        other => ReplayError::Table { path: path.to_path_buf(), message: other.to_string() },
    })
}

/// Reads canonical telemetry back from Parquet (as [`write`] made it).
pub fn read(path: &Path) -> Result<Telemetry, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let file = std::fs::File::open(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    let df = ParquetReader::new(file).finish().map_err(|e| table(e.to_string()))?;
    let col = |name: &str| {
        df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin telemetry file (write one with `twin trace import`)")))
    };
    let mut t = Telemetry {
        time_ns: col("time_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect(),
        gpu: col("gpu")?.u32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect(),
        ..Telemetry::default()
    };
    let names = col("gpu_name")?.str().map_err(|e| table(e.to_string()))?;
    for (g, n) in t.gpu.iter().zip(names.iter()) {
        if let Some(n) = n {
            t.names.entry(*g).or_insert_with(|| n.to_string());
        }
    }
    for f in Field::ALL {
        let c = col(f.column())?.f64().map_err(|e| table(e.to_string()))?;
        t.values[f as usize] = c.iter().collect();
    }
    t.throttle_reasons = col("throttle_reasons")?.u64().map_err(|e| table(e.to_string()))?.iter().collect();
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    #[test]
    fn round_trips_through_parquet() {
        let mut t = Telemetry::default();
        for k in 0..5u32 {
            let mut s = Sample::new(i64::from(k) * 1_000, k % 2);
            s.set(Field::Power, 70.0 + f64::from(k));
            if k == 0 {
                s.gpu_name = Some("NVIDIA H200".into());
            }
            s.throttle_reasons = (k % 2 == 0).then_some(1);
            t.push(s);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&t, &path).unwrap();
        assert_eq!(read(&path).unwrap(), t);
        std::fs::write(dir.path().join("x.parquet"), b"nope").unwrap();
        assert!(read(&dir.path().join("x.parquet")).is_err());
    }
}
