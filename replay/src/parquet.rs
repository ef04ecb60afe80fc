//! Parquet files, written atomically. Canonical telemetry is written
//! ([`crate::encoding`]) and read here through arrow-rs' `parquet` crate;
//! the other tables (jobs, prices, nodes) are polars frames, written with
//! polars' `ParquetWriter` ([`encode`]) and read back as frames.

use crate::{Field, ReplayError, Telemetry};
use arrow_array::types::{Float64Type, Int64Type, UInt32Type};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray, RecordBatch, StringArray, UInt64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::ParquetMetaDataReader;
use polars::prelude::{
    Column, DataFrame, Float64Chunked, IntoColumn, ParquetCompression, ParquetReader, ParquetWriter, PolarsResult, SerReader,
    StatisticsOptions,
};
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
    let file = open(path)?;
    let meta = ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| table_error(path, e))?;
    Ok(meta.file_metadata().schema_descr().root_schema().get_fields().iter().map(|f| f.name().to_string()).collect())
}

fn open(path: &Path) -> Result<std::fs::File, ReplayError> {
    std::fs::File::open(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })
}

fn table_error(path: &Path, e: impl std::fmt::Display) -> ReplayError {
    ReplayError::Table { path: path.to_path_buf(), message: e.to_string() }
}

/// Rows per batch read: a row group's worth.
const BATCH: usize = crate::encoding::ROW_GROUP;

/// Columns `names` of a telemetry file, read through arrow-rs in batches.
/// Types come from the Parquet schema alone (an embedded Arrow schema is
/// ignored), so files of any writer read the same: strings as `Utf8`.
struct Columns {
    batches: Vec<RecordBatch>,
    path: std::path::PathBuf,
}

impl Columns {
    fn read(path: &Path, names: &[&str]) -> Result<Columns, ReplayError> {
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(open(path)?, options).map_err(|e| table_error(path, e))?;
        let fields = builder.parquet_schema().root_schema().get_fields();
        let roots = names
            .iter()
            .map(|name| {
                fields.iter().position(|f| f.name() == *name).ok_or_else(|| {
                    table_error(path, format!("no column `{name}`: not a Twin telemetry file (write one with `twin trace import`)"))
                })
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder.with_projection(mask).with_batch_size(BATCH).build().map_err(|e| table_error(path, e))?;
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| table_error(path, e))?;
        Ok(Columns { batches, path: path.to_path_buf() })
    }

    /// Column `name`'s arrays, batch by batch, as type `T`.
    fn arrays<'a, T: Array + 'static>(&'a self, name: &str) -> Result<Vec<&'a T>, ReplayError> {
        self.batches
            .iter()
            .map(|b| {
                let a = b.column_by_name(name).expect("a projected column");
                a.as_any().downcast_ref::<T>().ok_or_else(|| {
                    table_error(&self.path, format!("column `{name}` is {}, not {}", a.data_type(), std::any::type_name::<T>()))
                })
            })
            .collect()
    }

    /// A primitive column, `missing` where null.
    fn primitive<P: ArrowPrimitiveType>(&self, name: &str, missing: P::Native) -> Result<Vec<P::Native>, ReplayError> {
        let mut out = Vec::new();
        for a in self.arrays::<PrimitiveArray<P>>(name)? {
            let from = out.len();
            out.extend_from_slice(a.values());
            if let Some(nulls) = a.nulls().filter(|n| n.null_count() > 0) {
                for i in nulls.iter().enumerate().filter(|(_, valid)| !valid).map(|(i, _)| i) {
                    out[from + i] = missing;
                }
            }
        }
        Ok(out)
    }

    /// A measurement column: null becomes NaN.
    fn f64s(&self, name: &str) -> Result<Vec<f64>, ReplayError> {
        self.primitive::<Float64Type>(name, f64::NAN)
    }
}

/// Reads canonical telemetry back from Parquet (as [`write`] made it).
pub fn read(path: &Path) -> Result<Telemetry, ReplayError> {
    let mut names = vec!["time_ns", "gpu", "gpu_name"];
    names.extend(Field::ALL.iter().map(|f| f.column()));
    names.push("throttle_reasons");
    let c = Columns::read(path, &names)?;
    let mut t =
        Telemetry { time_ns: c.primitive::<Int64Type>("time_ns", 0)?, gpu: c.primitive::<UInt32Type>("gpu", 0)?, ..Telemetry::default() };
    let mut row = 0;
    for a in c.arrays::<StringArray>("gpu_name")? {
        for (g, n) in t.gpu[row..row + a.len()].iter().zip(a.iter()) {
            if let Some(n) = n {
                t.names.entry(*g).or_insert_with(|| n.to_string());
            }
        }
        row += a.len();
    }
    for f in Field::ALL {
        t.values[f as usize] = c.f64s(f.column())?;
    }
    t.throttle_reasons = c.arrays::<UInt64Array>("throttle_reasons")?.into_iter().flat_map(|a| a.iter()).collect();
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
    let c = Columns::read(path, &["time_ns", "gpu", Field::UtilGpu.column(), Field::Power.column()])?;
    Ok(UsageRows {
        gpu: c.primitive::<UInt32Type>("gpu", 0)?,
        time_ns: c.primitive::<Int64Type>("time_ns", 0)?,
        util_pct: c.f64s(Field::UtilGpu.column())?,
        power_w: c.f64s(Field::Power.column())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;
    use arrow_array::StringViewArray;
    use arrow_array::cast::AsArray;

    /// Telemetry over `gpus` GPUs (indices spread past 4096, every third
    /// named) with full, partly null, constant and all-null columns, a
    /// column constant over whole pages then changing, a counter (written
    /// plain), a column of more than half distinct values (the dictionary
    /// gives way to plain) and -0.
    fn sample_telemetry(rows: usize, gpus: u32) -> Telemetry {
        let mut t = Telemetry::default();
        let gpu_of = |k: usize| (k as u32 % gpus) * 37;
        for k in 0..rows {
            let mut s = Sample::new(k as i64 * 1_000 - (k % 4) as i64, gpu_of(k));
            for (i, f) in Field::ALL.into_iter().enumerate() {
                if f == Field::Energy {
                    s.set(f, k as f64 * 1.5e3);
                } else if f == Field::PowerLimit {
                    // Constant over whole pages, with another value later.
                    s.set(f, if k < 70_000 { 700.0 } else { 650.0 });
                } else if f == Field::MemUsed {
                    // Mostly distinct, some missing: past the dictionary's limit.
                    if k % 7 != 0 {
                        s.set(f, (k as f64).sqrt());
                    }
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
        // Names of GPUs with rows: a file keeps no others.
        for g in (0..gpus.min(rows as u32)).step_by(3) {
            t.names.insert(g * 37, format!("NVIDIA H{}", 100 + g));
        }
        t
    }

    /// The same telemetry, every value to the bit (NaN stands for null).
    fn assert_same_bits(a: &Telemetry, b: &Telemetry, what: &str) {
        assert_eq!((&a.time_ns, &a.gpu, &a.names, &a.throttle_reasons), (&b.time_ns, &b.gpu, &b.names, &b.throttle_reasons), "{what}");
        for f in Field::ALL {
            let bits = |t: &Telemetry| t.column(f).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert!(bits(a) == bits(b), "{what}: {}", f.column());
        }
    }

    /// Telemetry as arrow-rs reads the file with the Arrow schema it embeds.
    fn through_arrow(bytes: &[u8]) -> Telemetry {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes)).unwrap();
        assert_eq!(reader.schema().as_ref(), &crate::encoding::schema());
        let mut t = Telemetry::default();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let col = |name: &str| batch.column_by_name(name).unwrap();
            t.time_ns.extend(col("time_ns").as_primitive::<Int64Type>().iter().map(Option::unwrap));
            let gpus: Vec<u32> = col("gpu").as_primitive::<UInt32Type>().iter().map(Option::unwrap).collect();
            let names: &StringViewArray = col("gpu_name").as_string_view();
            for (g, n) in gpus.iter().zip(names.iter()) {
                if let Some(n) = n {
                    t.names.insert(*g, n.to_string());
                }
            }
            t.gpu.extend(gpus);
            for f in Field::ALL {
                let v = col(f.column()).as_primitive::<Float64Type>();
                t.values[f as usize].extend(v.iter().map(|x| x.unwrap_or(f64::NAN)));
            }
            t.throttle_reasons.extend(col("throttle_reasons").as_primitive::<arrow_array::types::UInt64Type>().iter());
        }
        t
    }

    /// Telemetry as polars reads the file.
    fn through_polars(bytes: &[u8]) -> (DataFrame, Telemetry) {
        let df = ParquetReader::new(std::io::Cursor::new(bytes.to_vec())).finish().unwrap();
        let mut t = Telemetry {
            time_ns: df.column("time_ns").unwrap().i64().unwrap().iter().map(Option::unwrap).collect(),
            gpu: df.column("gpu").unwrap().u32().unwrap().iter().map(Option::unwrap).collect(),
            throttle_reasons: df.column("throttle_reasons").unwrap().u64().unwrap().iter().collect(),
            ..Telemetry::default()
        };
        for (g, n) in t.gpu.iter().zip(df.column("gpu_name").unwrap().str().unwrap().iter()) {
            if let Some(n) = n {
                t.names.insert(*g, n.to_string());
            }
        }
        for f in Field::ALL {
            t.values[f as usize] = df.column(f.column()).unwrap().f64().unwrap().iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        }
        (df, t)
    }

    /// `write_parquet` on a rayon pool of `threads` threads.
    fn encode_on(t: &Telemetry, threads: usize) -> Vec<u8> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut buf = Vec::new();
        pool.install(|| crate::encoding::write_parquet(t, &mut buf)).unwrap();
        buf
    }

    #[test]
    fn telemetry_files_read_back_exactly_through_polars_and_arrow_whatever_the_threads() {
        // 300,000 rows: two row groups; 300 GPUs: indices past 4096.
        for (rows, gpus) in [(0usize, 4u32), (7, 4), (300_000, 4), (20_000, 300)] {
            let t = sample_telemetry(rows, gpus);
            let what = format!("{rows} rows, {gpus} GPUs");
            let bytes = encode_on(&t, 1);
            for threads in [2, 3] {
                assert!(encode_on(&t, threads) == bytes, "{what}: the same bytes on 1 and {threads} threads");
            }
            let groups = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&bytes::Bytes::copy_from_slice(&bytes))
                .unwrap()
                .num_row_groups();
            assert_eq!(groups, rows.div_ceil(crate::encoding::ROW_GROUP), "{what}");
            let (df, back) = through_polars(&bytes);
            let want = to_frame(&t).unwrap();
            assert_eq!(df.schema(), want.schema(), "{what}");
            assert!(df.equals_missing(&want), "{what}");
            assert_same_bits(&back, &t, &format!("{what}, through polars"));
            assert_same_bits(&through_arrow(&bytes), &t, &format!("{what}, through arrow-rs"));
            // And through Twin's own reader.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.parquet");
            std::fs::write(&path, &bytes).unwrap();
            assert_same_bits(&read(&path).unwrap(), &t, &format!("{what}, through `read`"));
            let usage = read_usage(&path).unwrap();
            assert_eq!((&usage.gpu, &usage.time_ns), (&t.gpu, &t.time_ns), "{what}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(bits(&usage.util_pct) == bits(t.column(Field::UtilGpu)) && bits(&usage.power_w) == bits(t.column(Field::Power)));
            let mut names = vec!["time_ns", "gpu", "gpu_name"];
            names.extend(Field::ALL.iter().map(|f| f.column()));
            names.push("throttle_reasons");
            assert_eq!(columns_of(&path).unwrap(), names, "{what}");
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
        assert!(matches!(read(&dir.path().join("none.parquet")), Err(ReplayError::Io { .. })));
    }

    #[test]
    fn a_file_without_a_telemetry_column_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.parquet");
        let df = DataFrame::new(1, vec![Column::new("job".into(), &[1u32])]).unwrap();
        write_frame(Ok(df.clone()), &path).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("no column `time_ns`"), "{e}");
        assert_eq!(columns_of(&path).unwrap(), ["job"]);
        assert!(read_frame(&path, None).unwrap().equals(&df));
    }
}
