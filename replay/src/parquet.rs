//! Canonical telemetry to and from Parquet (through polars), written atomically.

use crate::{Field, ReplayError, Telemetry};
use polars::prelude::*;
use std::path::Path;

/// A measurement column as polars sees it: NaN becomes null.
fn measurement(name: &str, v: &[f64]) -> Column {
    let validity = v.iter().any(|x| x.is_nan()).then(|| v.iter().map(|x| !x.is_nan()).collect());
    let values = v.iter().map(|x| if x.is_nan() { 0.0 } else { *x }).collect();
    Float64Chunked::from_vec_validity(name.into(), values, validity).into_column()
}

/// The telemetry as a polars frame, canonical column names and order, with
/// the schema [`write`]'s files have.
pub fn to_frame(t: &Telemetry) -> PolarsResult<DataFrame> {
    let names: Vec<Option<&str>> = t.gpu.iter().map(|g| t.names.get(g).map(String::as_str)).collect();
    let mut cols =
        vec![Column::new("time_ns".into(), &t.time_ns), Column::new("gpu".into(), &t.gpu), Column::new("gpu_name".into(), names)];
    cols.extend(Field::ALL.iter().map(|f| measurement(f.column(), t.column(*f))));
    cols.push(Column::new("throttle_reasons".into(), &t.throttle_reasons));
    DataFrame::new(t.len(), cols)
}

/// Bytes per Parquet data page: a quarter of polars' default, so that page
/// buffers are reused rather than fresh memory (the benchmark's file is also
/// a tenth smaller).
const DATA_PAGE: usize = 256 << 10;

/// Encodes a frame as Parquet into any writer, LZ4-compressed: about a
/// quarter less encoding time than polars' default zstd for files some two
/// times larger. Statistics are null counts only: minima and maxima cost a
/// tenth of the encoding, and Twin's readers take whole columns. The tables
/// other than telemetry (jobs, prices, nodes) are written this way;
/// telemetry has its own encoder ([`crate::encoding`]).
pub fn encode(df: &mut DataFrame, w: impl std::io::Write) -> PolarsResult<()> {
    let statistics = StatisticsOptions { null_count: true, ..StatisticsOptions::empty() };
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Lz4Raw)
        .with_statistics(statistics)
        .with_data_page_size(Some(DATA_PAGE))
        .finish(df)
        .map(|_| ())
}

/// Writes canonical telemetry as Parquet, whole or not at all (encoded as
/// [`crate::encoding`] says).
pub fn write(t: &Telemetry, path: &Path) -> Result<(), ReplayError> {
    crate::atomic::write_atomically(path, |w| crate::encoding::write_parquet(t, w))
}

/// Writes a frame as Parquet, whole or not at all.
pub(crate) fn write_frame(df: PolarsResult<DataFrame>, path: &Path) -> Result<(), ReplayError> {
    let mut df = df.map_err(|e| ReplayError::Table { path: path.to_path_buf(), message: e.to_string() })?;
    crate::atomic::write_atomically(path, |w| encode(&mut df, w))
}

/// Reads a Parquet file into a frame: every column, or only `columns`.
pub(crate) fn read_frame(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame, ReplayError> {
    let file = std::fs::File::open(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    let reader = ParquetReader::new(file).with_columns(columns.map(|c| c.iter().map(|n| n.to_string()).collect()));
    reader.finish().map_err(|e| ReplayError::Table { path: path.to_path_buf(), message: e.to_string() })
}

/// The column names of a Parquet file, from its footer alone.
pub fn columns_of(path: &Path) -> Result<Vec<String>, ReplayError> {
    let file = std::fs::File::open(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    let schema = ParquetReader::new(file).schema().map_err(|e| ReplayError::Table { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Reads canonical telemetry back from Parquet (as [`write`] made it).
pub fn read(path: &Path) -> Result<Telemetry, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = read_frame(path, None)?;
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
        t.values[f as usize] = c.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    }
    t.throttle_reasons = col("throttle_reasons")?.u64().map_err(|e| table(e.to_string()))?.iter().collect();
    Ok(t)
}

/// The columns a model needs of a recording: GPU, time, utilisation and power.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageRows {
    /// GPU of each row.
    pub gpu: Vec<u32>,
    /// Time of each row, ns since the epoch.
    pub time_ns: Vec<i64>,
    /// Utilisation, percent; NaN where not recorded.
    pub util_pct: Vec<f64>,
    /// Power, W; NaN where not recorded.
    pub power_w: Vec<f64>,
}

/// Reads only GPU, time, utilisation and power from a canonical Parquet
/// file: what replaying it into the model needs, without the other columns.
pub fn read_usage(path: &Path) -> Result<UsageRows, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = read_frame(path, Some(&["time_ns", "gpu", Field::UtilGpu.column(), Field::Power.column()]))?;
    let col = |name: &str| {
        df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin telemetry file (write one with `twin trace import`)")))
    };
    let f64s = |name: &str| -> Result<Vec<f64>, ReplayError> {
        let c = col(name)?.f64().map_err(|e| table(e.to_string()))?;
        Ok(if c.null_count() == 0 { c.into_no_null_iter().collect() } else { c.iter().map(|v| v.unwrap_or(f64::NAN)).collect() })
    };
    Ok(UsageRows {
        gpu: col("gpu")?.u32().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect(),
        time_ns: col("time_ns")?.i64().map_err(|e| table(e.to_string()))?.iter().map(|v| v.unwrap_or(0)).collect(),
        util_pct: f64s(Field::UtilGpu.column())?,
        power_w: f64s(Field::Power.column())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    /// Telemetry with full, partly null, constant and all-null columns, a
    /// column of distinct values (written plain), -0 and GPUs with and
    /// without names.
    fn sample_telemetry(rows: usize) -> Telemetry {
        let mut t = Telemetry::default();
        for k in 0..rows {
            let gpu = [0u32, 1, 2, 5000][k % 4];
            let mut s = Sample::new(k as i64 * 1_000 - (k % 4) as i64, gpu);
            for (i, f) in Field::ALL.into_iter().enumerate() {
                if f == Field::Energy {
                    s.set(f, k as f64 * 1.5e3);
                } else if f == Field::PowerLimit {
                    // Constant over whole pages, with another value later.
                    s.set(f, if k < 70_000 { 700.0 } else { 650.0 });
                } else if i == 0 || (i < 11 && (k + i) % (i + 1) != 0) {
                    s.set(f, (k % 97) as f64 * 0.25 + i as f64 - 2.0);
                }
            }
            if k % 5 == 0 {
                s.set(Field::MemTemp, -0.0);
            }
            s.throttle_reasons = (k % 3 != 0).then_some(k as u64 % 5);
            t.push(s);
        }
        t.names.insert(0, "NVIDIA H200".into());
        t.names.insert(5000, "NVIDIA H100 80GB HBM3".into());
        t
    }

    #[test]
    fn telemetry_files_read_back_as_its_frame_whatever_the_threads() {
        // 300,000 rows: two row groups.
        for rows in [0usize, 7, 300_000] {
            let t = sample_telemetry(rows);
            let mut one = Vec::new();
            crate::encoding::write_parquet_in(&t, &mut one, 1).unwrap();
            let mut three = Vec::new();
            crate::encoding::write_parquet_in(&t, &mut three, 3).unwrap();
            assert!(one == three, "{rows} rows: the same bytes on 1 and 3 threads");
            let back = ParquetReader::new(std::io::Cursor::new(one)).finish().unwrap();
            let want = to_frame(&t).unwrap();
            assert_eq!(back.schema(), want.schema(), "{rows} rows");
            assert!(back.equals_missing(&want), "{rows} rows");
            // -0 keeps its sign.
            if rows > 0 {
                assert!(back.column("mem_temp_c").unwrap().f64().unwrap().get(0).unwrap().is_sign_negative());
            }
        }
    }

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
