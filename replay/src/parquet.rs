//! Canonical telemetry to and from Parquet (through polars), written atomically.

use crate::{Field, ReplayError, Telemetry};
use polars::prelude::*;
use std::path::Path;

/// A nullable column from its values: the values and, where some are
/// missing, a validity mask (no per-value builder); a column with no value
/// at all is a repeated null, which polars keeps as one (the file is the same).
fn nullable<T>(name: &str, v: &[Option<T::Native>]) -> Column
where
    T: PolarsNumericType,
{
    if !v.is_empty() && v.iter().all(Option::is_none) {
        return Column::full_null(name.into(), v.len(), &T::get_static_dtype());
    }
    let mut nulls = 0;
    let values: Vec<T::Native> = v
        .iter()
        .map(|x| {
            nulls += usize::from(x.is_none());
            x.unwrap_or_default()
        })
        .collect();
    let validity = (nulls > 0).then(|| v.iter().map(Option::is_some).collect());
    ChunkedArray::<T>::from_vec_validity(name.into(), values, validity).into_column()
}

/// `gpu_name` by row: each GPU's name once, gathered by row.
fn gpu_names(t: &Telemetry) -> PolarsResult<Column> {
    let names: Vec<&str> = t.names.values().map(String::as_str).collect();
    let dict = StringChunked::from_iter_values("gpu_name".into(), names.iter().copied());
    // Row to position in `names`, through a table for small GPU indices.
    let small: Vec<Option<IdxSize>> = {
        let top = t.names.keys().next_back().map_or(0, |g| (*g as usize + 1).min(4096));
        let mut s = vec![None; top];
        for (i, g) in t.names.keys().enumerate() {
            if let Some(slot) = s.get_mut(*g as usize) {
                *slot = Some(i as IdxSize);
            }
        }
        s
    };
    let pos = |g: u32| match small.get(g as usize) {
        Some(p) => *p,
        None => t.names.keys().position(|k| *k == g).map(|i| i as IdxSize),
    };
    let idx: Vec<Option<IdxSize>> = t.gpu.iter().map(|g| pos(*g)).collect();
    let values: Vec<IdxSize> = idx.iter().map(|x| x.unwrap_or_default()).collect();
    let validity = if idx.iter().all(Option::is_some) { None } else { Some(idx.iter().map(Option::is_some).collect()) };
    let idx = IdxCa::from_vec_validity("".into(), values, validity);
    Ok(dict.take(&idx)?.into_column())
}

/// The telemetry as a polars frame, canonical column names and order.
pub fn to_frame(t: &Telemetry) -> PolarsResult<DataFrame> {
    let values = |fields: &[Field]| -> Vec<Column> { fields.iter().map(|f| nullable::<Float64Type>(f.column(), t.column(*f))).collect() };
    let (half_a, half_b) = Field::ALL.split_at(6);
    let (a, b, head) = if t.len() >= 50_000 {
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                let head = vec![Column::new("time_ns".into(), &t.time_ns), Column::new("gpu".into(), &t.gpu), gpu_names(t)?];
                PolarsResult::Ok((head, values(half_a)))
            });
            let b = values(half_b);
            let (head, a) = other.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            PolarsResult::Ok((a, b, head))
        })?
    } else {
        let head = vec![Column::new("time_ns".into(), &t.time_ns), Column::new("gpu".into(), &t.gpu), gpu_names(t)?];
        (values(half_a), values(half_b), head)
    };
    let mut cols = head;
    cols.extend(a);
    cols.extend(b);
    cols.push(nullable::<UInt64Type>("throttle_reasons", &t.throttle_reasons));
    DataFrame::new(t.len(), cols)
}

/// Bytes per Parquet data page: a quarter of polars' default, so that page
/// buffers are reused rather than fresh memory (the benchmark's file is also
/// a tenth smaller).
const DATA_PAGE: usize = 256 << 10;

/// Encodes a frame as Parquet into any writer, LZ4-compressed: about a
/// quarter less encoding time than polars' default zstd for files some two
/// times larger (telemetry columns repeat; polars dictionary-encodes integer
/// and string columns and writes floats plain). Statistics are null counts
/// only: minima and maxima cost a tenth of the encoding, and Twin's readers
/// take whole columns.
pub fn encode(df: &mut DataFrame, w: impl std::io::Write) -> PolarsResult<()> {
    let statistics = StatisticsOptions { null_count: true, ..StatisticsOptions::empty() };
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Lz4Raw)
        .with_statistics(statistics)
        .with_data_page_size(Some(DATA_PAGE))
        .finish(df)
        .map(|_| ())
}

/// Writes canonical telemetry as Parquet, whole or not at all.
pub fn write(t: &Telemetry, path: &Path) -> Result<(), ReplayError> {
    write_frame(to_frame(t), path)
}

/// Writes a frame as Parquet, whole or not at all.
pub(crate) fn write_frame(df: PolarsResult<DataFrame>, path: &Path) -> Result<(), ReplayError> {
    let mut df = df.map_err(|e| ReplayError::Table { path: path.to_path_buf(), message: e.to_string() })?;
    twin_export::write_atomically(path, |w| encode(&mut df, w)).map_err(|e| match e {
        twin_export::ExportError::Io { path, source } => ReplayError::Io { path, source },
        other => ReplayError::Table { path: path.to_path_buf(), message: other.to_string() },
    })
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
        t.values[f as usize] = c.iter().collect();
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
    /// Utilisation, percent, where recorded.
    pub util_pct: Vec<Option<f64>>,
    /// Power, W, where recorded.
    pub power_w: Vec<Option<f64>>,
}

/// Reads only GPU, time, utilisation and power from a canonical Parquet
/// file: what replaying it into the model needs, without the other columns.
pub fn read_usage(path: &Path) -> Result<UsageRows, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = read_frame(path, Some(&["time_ns", "gpu", Field::UtilGpu.column(), Field::Power.column()]))?;
    let col = |name: &str| {
        df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin telemetry file (write one with `twin trace import`)")))
    };
    let f64s = |name: &str| -> Result<Vec<Option<f64>>, ReplayError> {
        let c = col(name)?.f64().map_err(|e| table(e.to_string()))?;
        Ok(if c.null_count() == 0 { c.into_no_null_iter().map(Some).collect() } else { c.iter().collect() })
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

    /// The frame built value by value, as polars' own constructors do.
    fn reference_frame(t: &Telemetry) -> DataFrame {
        let names: Vec<Option<&str>> = t.gpu.iter().map(|g| t.names.get(g).map(String::as_str)).collect();
        let mut cols =
            vec![Column::new("time_ns".into(), &t.time_ns), Column::new("gpu".into(), &t.gpu), Column::new("gpu_name".into(), names)];
        for f in Field::ALL {
            cols.push(Column::new(f.column().into(), t.column(f)));
        }
        cols.push(Column::new("throttle_reasons".into(), &t.throttle_reasons));
        DataFrame::new(t.len(), cols).unwrap()
    }

    #[test]
    fn frames_and_files_match_the_value_by_value_construction() {
        for rows in [0usize, 7, 60_000] {
            let mut t = Telemetry::default();
            for k in 0..rows {
                let gpu = [0u32, 1, 2, 5000][k % 4];
                let mut s = Sample::new(k as i64 * 1_000, gpu);
                for (i, f) in Field::ALL.into_iter().enumerate() {
                    // Some columns full, some partly null, one all null.
                    if i == 0 || (i < 11 && (k + i) % (i + 1) != 0) {
                        s.set(f, (k % 97) as f64 * 0.25 + i as f64);
                    }
                }
                s.throttle_reasons = (k % 3 != 0).then_some(k as u64 % 5);
                t.push(s);
            }
            t.names.insert(0, "NVIDIA H200".into());
            t.names.insert(5000, "NVIDIA H100 80GB HBM3".into());
            let (mut a, mut b) = (to_frame(&t).unwrap(), reference_frame(&t));
            assert!(a.equals_missing(&b), "{rows} rows");
            assert_eq!(a.schema(), b.schema());
            let (mut x, mut y) = (Vec::new(), Vec::new());
            encode(&mut a, &mut x).unwrap();
            encode(&mut b, &mut y).unwrap();
            assert!(x == y, "{rows} rows: the same bytes");
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
