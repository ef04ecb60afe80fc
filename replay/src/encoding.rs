//! Canonical telemetry written as Parquet through arrow-rs' `parquet`
//! crate and its public API alone, columns encoded in parallel, so that the
//! files are the ones polars, arrow-rs, pyarrow and DuckDB read, and a
//! new version of the crate needs no port.
//!
//! Each column gets the encoding it suits, set per column in
//! [`WriterProperties`]:
//!
//! | column | encoding |
//! | --- | --- |
//! | `time_ns` | `DELTA_BINARY_PACKED` (rows arrive in time order: small deltas) |
//! | `gpu`, `gpu_name` | dictionary |
//! | measurements, `throttle_reasons` | dictionary, falling back to plain once the dictionary holds more than half a row group's values |
//! | `energy_j` | plain (a counter: every sample differs) |
//! | a measurement no row has | definition levels alone (no dictionary) |
//!
//! Missing measurements (NaN in memory) are Parquet nulls; `gpu_name` goes
//! to the writer as an Arrow dictionary of the GPUs' names, so each name is
//! hashed once per row group rather than once per row. Pages are
//! LZ4-compressed (`LZ4_RAW`), data pages version 1 of at most
//! [`DATA_PAGE`] bytes and [`PAGE_ROWS`] rows, row groups of [`ROW_GROUP`]
//! rows. No statistics: the crate offers none, chunk (null counts with
//! minima and maxima) or page; Twin's readers take whole columns.
//!
//! Parallelism is the crate's documented low-level path: an
//! [`ArrowRowGroupWriterFactory`](parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory)
//! gives one [`ArrowColumnWriter`] per column of a row group, rayon encodes
//! the columns at once (each builds its Arrow array, computes its levels
//! with [`compute_leaves`] and encodes and compresses its pages), and the
//! chunks are appended to the row group in schema order: the bytes do not
//! depend on how many threads there are.
//!
//! Cost, against the hand-written pages this replaces (bd50f4b), on the
//! criterion bench's 200,000 nvidia-smi rows (`cargo bench -p twin-benches
//! --bench replay -- read`, 2 cores): read+parquet 7.5–7.9 M rows/s
//! against 11.5–11.7 M; encoding 23 ms of CPU against 8 ms, mostly the
//! crate's dictionary hashing every value; a file of 19,903 bytes against
//! 17,906. Chunk statistics would add a fifth to the encoding's CPU.

use crate::{Field, Telemetry};
use arrow_array::types::UInt32Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, StringArray, UInt32Array, UInt64Array};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowWriterOptions, compute_leaves};
use parquet::basic::{Compression, Encoding};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

/// Rows per row group: polars' default, so readers see what they expect.
pub const ROW_GROUP: usize = 512 * 512;

/// Bytes per data page: a quarter of polars' default, so that page buffers
/// are reused rather than fresh memory.
const DATA_PAGE: usize = 256 << 10;

/// Rows per data page at most (arrow-rs' default is 20,000): telemetry's
/// runs make pages small, and fewer pages make a smaller file.
const PAGE_ROWS: usize = 64 << 10;

/// The canonical schema as Arrow sees it, every column nullable: what
/// polars writes for the frame of [`crate::parquet::to_frame`].
pub fn schema() -> Schema {
    let field = |name: &str, dtype: DataType| ArrowField::new(name, dtype, true);
    let mut fields = vec![field("time_ns", DataType::Int64), field("gpu", DataType::UInt32), field("gpu_name", DataType::Utf8View)];
    fields.extend(Field::ALL.iter().map(|f| field(f.column(), DataType::Float64)));
    fields.push(field("throttle_reasons", DataType::UInt64));
    Schema::new(fields)
}

/// The writer's settings for telemetry `t`, column by column.
fn properties(t: &Telemetry) -> WriterProperties {
    let column = |name: &str| ColumnPath::from(name);
    // A dictionary of 8-byte values stops paying once it holds more than
    // half a row group's values: past that size the column goes plain.
    let half_group = t.len().min(ROW_GROUP) / 2 * 8;
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_offset_index_disabled(true)
        .set_data_page_size_limit(DATA_PAGE)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_dictionary_enabled(true)
        .set_dictionary_page_size_limit(half_group.max(1))
        .set_column_dictionary_enabled(column("time_ns"), false)
        .set_column_encoding(column("time_ns"), Encoding::DELTA_BINARY_PACKED)
        // The driver's energy counter grows with every sample: plain.
        .set_column_dictionary_enabled(column(Field::Energy.column()), false)
        // GPUs and their names: a handful of values, a dictionary always.
        .set_column_dictionary_page_size_limit(column("gpu"), usize::MAX)
        .set_column_dictionary_page_size_limit(column("gpu_name"), usize::MAX);
    // A measurement no row has: definition levels alone, without an empty
    // dictionary page in every row group.
    for f in Field::ALL.into_iter().filter(|f| !has_values(t.column(*f))) {
        b = b.set_column_dictionary_enabled(column(f.column()), false);
    }
    b.build()
}

/// Whether any row has a value: [`Telemetry::has`] 64 rows at a time,
/// which the compiler vectorises (an absent column is all rows).
fn has_values(v: &[f64]) -> bool {
    v.chunks(64).any(|c| c.iter().fold(false, |any, x| any | !x.is_nan()))
}

/// Null where `valid` is false for a row, `None` when no row is null.
fn nulls(len: usize, valid: impl Fn(usize) -> bool) -> Option<NullBuffer> {
    let bits = BooleanBuffer::collect_bool(len, valid);
    (bits.count_set_bits() < len).then(|| NullBuffer::new(bits))
}

/// A measurement column: NaN becomes null.
fn measurement(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::new(v.to_vec().into(), nulls(v.len(), |i| !v[i].is_nan())))
}

/// `throttle_reasons`: the bitmasks, null where unknown.
fn throttles(v: &[Option<u64>]) -> ArrayRef {
    let values: Vec<u64> = v.iter().map(|x| x.unwrap_or(0)).collect();
    Arc::new(UInt64Array::new(values.into(), nulls(v.len(), |i| v[i].is_some())))
}

/// `gpu_name`: each row's key into the GPUs' names, null where a GPU has
/// none.
fn gpu_names(t: &Telemetry, gpus: &[u32]) -> ArrayRef {
    let names = StringArray::from_iter_values(t.names.values());
    // Positions by GPU index, straight for indices below 4096.
    let top = t.names.keys().next_back().map_or(0, |g| (*g as usize + 1).min(4096));
    let mut small: Vec<Option<u32>> = vec![None; top];
    for (i, g) in t.names.keys().enumerate() {
        if let Some(slot) = small.get_mut(*g as usize) {
            *slot = Some(i as u32);
        }
    }
    let pos = |g: u32| match small.get(g as usize) {
        Some(p) => *p,
        None => t.names.keys().position(|k| *k == g).map(|i| i as u32),
    };
    let keys: Vec<Option<u32>> = gpus.iter().map(|g| pos(*g)).collect();
    let valid = nulls(keys.len(), |i| keys[i].is_some());
    let keys = UInt32Array::new(keys.iter().map(|k| k.unwrap_or(0)).collect(), valid);
    Arc::new(DictionaryArray::<UInt32Type>::try_new(keys, Arc::new(names)).expect("every key is a name's position"))
}

/// Column `c` (in [`schema`] order) of rows `rows`, as an Arrow array.
fn column(t: &Telemetry, c: usize, rows: Range<usize>) -> ArrayRef {
    match c {
        0 => Arc::new(Int64Array::new(t.time_ns[rows].to_vec().into(), None)),
        1 => Arc::new(UInt32Array::new(t.gpu[rows].to_vec().into(), None)),
        2 => gpu_names(t, &t.gpu[rows]),
        c if c < 3 + Field::COUNT => measurement(&t.column(Field::ALL[c - 3])[rows]),
        _ => throttles(&t.throttle_reasons[rows]),
    }
}

/// Column `c` of rows `rows` encoded and compressed by its writer.
fn encode_column(
    t: &Telemetry,
    c: usize,
    rows: Range<usize>,
    field: &ArrowField,
    mut writer: ArrowColumnWriter,
) -> Result<ArrowColumnChunk, ParquetError> {
    for leaf in compute_leaves(field, &column(t, c, rows))? {
        writer.write(&leaf)?;
    }
    writer.close()
}

/// Writes canonical telemetry as Parquet into any writer, its columns
/// encoded in parallel on rayon's current thread pool (the bytes are the
/// same for any number of threads). A row group is encoded in memory, then
/// written to `w`.
pub fn write_parquet(t: &Telemetry, mut w: impl Write) -> Result<(), ParquetError> {
    let schema = Arc::new(schema());
    let options = ArrowWriterOptions::new().with_properties(properties(t));
    // The file is made in a buffer that each row group empties into `w`
    // (which need not be `Send`, as the crate's writer must be).
    let (mut file, factory) = ArrowWriter::try_new_with_options(Vec::new(), Arc::clone(&schema), options)?.into_serialized_writer()?;
    for (i, start) in (0..t.len()).step_by(ROW_GROUP).enumerate() {
        let rows = start..(start + ROW_GROUP).min(t.len());
        let chunks = factory
            .create_column_writers(i)?
            .into_par_iter()
            .enumerate()
            .map(|(c, writer)| encode_column(t, c, rows.clone(), schema.field(c), writer))
            .collect::<Result<Vec<_>, _>>()?;
        let mut group = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        w.write_all(&std::mem::take(file.inner_mut()))?;
    }
    w.write_all(&file.into_inner()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn columns_get_the_encoding_the_table_says() {
        let mut t = Telemetry::default();
        for k in 0..4_000u32 {
            let mut s = Sample::new(i64::from(k / 4) * 100_000_000, k % 4);
            s.set(Field::Power, 70.0 + f64::from(k % 5));
            s.set(Field::Energy, f64::from(k) * 7.5);
            t.push(s);
        }
        let mut buf = Vec::new();
        write_parquet(&t, &mut buf).unwrap();
        let file = SerializedFileReader::new(bytes::Bytes::from(buf)).unwrap();
        let group = file.metadata().row_group(0);
        let column = |name: &str| group.columns().iter().find(|c| c.column_path().string() == name).unwrap();
        let dict = |name: &str| column(name).dictionary_page_offset().is_some();
        assert!(!dict("time_ns"), "delta-encoded");
        let encodings = |name: &str| column(name).encodings().collect::<Vec<_>>();
        assert!(encodings("time_ns").contains(&Encoding::DELTA_BINARY_PACKED));
        assert!(dict("gpu") && dict("gpu_name") && dict("power_w"), "few values: a dictionary");
        assert!(!dict("energy_j") && encodings("energy_j").contains(&Encoding::PLAIN), "a counter: plain");
        assert!(!dict("temp_c"), "all null: no values at all");
        assert!(column("util_gpu_pct").compressed_size() < 100, "all null: definition levels alone");
        assert_eq!(column("power_w").compression(), Compression::LZ4_RAW);
    }
}
