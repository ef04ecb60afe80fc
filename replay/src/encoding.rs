//! Canonical telemetry encoded as Parquet column by column, with the
//! encoding each column suits, through polars' own Parquet writer
//! (`polars-parquet`), so the files are the ones polars, pyarrow and DuckDB
//! read, with the same schema `polars` itself writes for the frame.
//!
//! Why not `ParquetWriter` on a frame: it picks encodings by guessing, and
//! for float columns the guess is a HyperLogLog estimate of distinct values
//! followed by a hash group-by, about half its time on telemetry; it also
//! compresses pages on one thread. Here:
//!
//! | column | encoding |
//! | --- | --- |
//! | `time_ns` | delta, bit-packed (rows arrive in time order: small deltas) |
//! | `gpu`, `throttle_reasons` | dictionary (polars finds it from the range, no hashing) |
//! | `gpu_name` | dictionary built from the GPU's position among the names |
//! | measurements | dictionary built here in one pass with a small hash table, or plain when more than half the values differ |
//!
//! Pages are compressed (LZ4) on all cores, a column per task; the bytes do
//! not depend on how many cores there are.

use crate::{Field, Telemetry};
use polars::prelude::{PlSmallStr, PolarsResult};
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field as ArrowField, IntegerType};
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, StatisticsOptions, Version, WriteOptions,
    array_to_columns, compress, fallible_streaming_iterator, to_parquet_schema,
};
use std::io::Write;

/// Rows per row group: polars' default, so readers see what they expect.
const ROW_GROUP: usize = 512 * 512;

/// Bytes per data page: a quarter of polars' default, so that page buffers
/// are reused rather than fresh memory.
const DATA_PAGE: usize = 256 << 10;

/// The canonical schema as Arrow sees it: what polars writes for the frame
/// of [`crate::parquet::to_frame`] (every column nullable).
pub fn schema() -> ArrowSchema {
    let field = |name: &str, dtype: ArrowDataType| ArrowField::new(PlSmallStr::from(name), dtype, true);
    let mut fields =
        vec![field("time_ns", ArrowDataType::Int64), field("gpu", ArrowDataType::UInt32), field("gpu_name", ArrowDataType::Utf8View)];
    fields.extend(Field::ALL.iter().map(|f| field(f.column(), ArrowDataType::Float64)));
    fields.push(field("throttle_reasons", ArrowDataType::UInt64));
    fields.into_iter().collect()
}

/// Null counts only: minima and maxima cost a tenth of the encoding, and
/// Twin's readers take whole columns.
fn options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions { null_count: true, ..StatisticsOptions::empty() },
        version: Version::V1,
        compression: CompressionOptions::Lz4Raw,
        data_page_size: Some(DATA_PAGE),
    }
}

/// The values of a nullable column and its mask (nulls become `T::default()`).
fn nullable<T: Copy + Default>(v: &[Option<T>]) -> (Vec<T>, Option<Bitmap>) {
    let mut nulls = 0;
    let values = v
        .iter()
        .map(|x| {
            nulls += usize::from(x.is_none());
            x.unwrap_or_default()
        })
        .collect();
    (values, (nulls > 0).then(|| v.iter().map(Option::is_some).collect()))
}

/// A float column's dictionary: distinct values (by their bits, so -0 is
/// not 0) in order of first sight, and each row's key (0 for a null).
/// `None` when more than half the rows hold distinct values: plain is then
/// smaller and quicker to read.
fn float_dictionary(v: &[f64]) -> Option<(Vec<f64>, Vec<u32>)> {
    let limit = v.len() / 2;
    // Open addressing on the value's bits; slots hold key + 1 (0 is empty).
    let slot_of = |b: u64, bits: u32| (b.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
    let mut bits = 10;
    let mut slots = vec![0u32; 1 << bits];
    let mut dict: Vec<f64> = Vec::new();
    let mut keys = Vec::with_capacity(v.len());
    // Telemetry repeats itself: the last value's key saves most lookups.
    let mut last = (f64::NAN.to_bits(), 0u32);
    for &x in v {
        let b = x.to_bits();
        if b == last.0 || x.is_nan() {
            keys.push(if x.is_nan() { 0 } else { last.1 });
            continue;
        }
        let mut i = slot_of(b, bits);
        let key = loop {
            match slots[i] {
                0 => {
                    if dict.len() >= limit {
                        return None;
                    }
                    dict.push(x);
                    let k = (dict.len() - 1) as u32;
                    slots[i] = k + 1;
                    // Grow at half full, placing every value again.
                    if dict.len() * 2 > slots.len() {
                        bits += 1;
                        slots = vec![0u32; 1 << bits];
                        for (k, d) in dict.iter().enumerate() {
                            let mut j = slot_of(d.to_bits(), bits);
                            while slots[j] != 0 {
                                j = (j + 1) & ((1 << bits) - 1);
                            }
                            slots[j] = k as u32 + 1;
                        }
                    }
                    break k;
                }
                s if dict[s as usize - 1].to_bits() == b => break s - 1,
                _ => i = (i + 1) & ((1 << bits) - 1),
            }
        };
        last = (b, key);
        keys.push(key);
    }
    Some((dict, keys))
}

/// One column of a row group, ready to encode: the array and its encoding.
type Prepared = (Box<dyn Array>, Encoding);

fn dictionary_dtype(values: ArrowDataType) -> ArrowDataType {
    ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(values), false)
}

/// A measurement column (NaN where missing) as an array and its encoding.
fn measurement(v: &[f64]) -> PolarsResult<Prepared> {
    let nulls = v.iter().filter(|x| x.is_nan()).count();
    if nulls == v.len() {
        // Only definition levels: no values at all.
        return Ok((Box::new(PrimitiveArray::<f64>::new_null(ArrowDataType::Float64, v.len())), Encoding::Plain));
    }
    let mask = || (nulls > 0).then(|| v.iter().map(|x| !x.is_nan()).collect::<Bitmap>());
    match float_dictionary(v) {
        Some((dict, keys)) => {
            let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), mask());
            let values = PrimitiveArray::new(ArrowDataType::Float64, dict.into(), None);
            Ok((
                Box::new(DictionaryArray::try_new(dictionary_dtype(ArrowDataType::Float64), keys, Box::new(values))?),
                Encoding::RleDictionary,
            ))
        }
        None => {
            let values: Vec<f64> = v.iter().map(|x| if x.is_nan() { 0.0 } else { *x }).collect();
            Ok((Box::new(PrimitiveArray::new(ArrowDataType::Float64, values.into(), mask())), Encoding::Plain))
        }
    }
}

/// `gpu_name` for rows `range`: keys into the GPUs' names, null where a GPU
/// has none.
fn gpu_names(t: &Telemetry, range: std::ops::Range<usize>) -> PolarsResult<Prepared> {
    let names: Vec<&str> = t.names.values().map(String::as_str).collect();
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
    let idx: Vec<Option<u32>> = t.gpu[range].iter().map(|g| pos(*g)).collect();
    let (keys, valid) = nullable(&idx);
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), valid);
    let values = Utf8ViewArray::from_slice_values(&names);
    Ok((Box::new(DictionaryArray::try_new(dictionary_dtype(ArrowDataType::Utf8View), keys, values.boxed())?), Encoding::RleDictionary))
}

/// Column `c` (in [`schema`] order) of rows `range`.
fn prepare(t: &Telemetry, c: usize, range: std::ops::Range<usize>) -> PolarsResult<Prepared> {
    Ok(match c {
        0 => (Box::new(PrimitiveArray::new(ArrowDataType::Int64, t.time_ns[range].to_vec().into(), None)), Encoding::DeltaBinaryPacked),
        1 => (Box::new(PrimitiveArray::new(ArrowDataType::UInt32, t.gpu[range].to_vec().into(), None)), Encoding::RleDictionary),
        2 => gpu_names(t, range)?,
        c if c < 3 + Field::COUNT => measurement(&t.column(Field::ALL[c - 3])[range])?,
        _ => {
            let (values, valid) = nullable(&t.throttle_reasons[range]);
            (Box::new(PrimitiveArray::new(ArrowDataType::UInt64, values.into(), valid)), Encoding::RleDictionary)
        }
    })
}

/// Column `c` of rows `range`, encoded and compressed.
fn encode_column(
    t: &Telemetry,
    c: usize,
    range: std::ops::Range<usize>,
    types: &[polars_parquet::write::ParquetType],
) -> PolarsResult<Vec<CompressedPage>> {
    let (array, encoding) = prepare(t, c, range)?;
    let mut pages = Vec::new();
    for column in array_to_columns(array, types[c].clone(), options(), &[encoding])? {
        for page in column {
            pages.push(compress(page?, Vec::new(), options().compression)?);
        }
    }
    Ok(pages)
}

/// Writes canonical telemetry as Parquet into any writer, on all cores.
pub fn write_parquet(t: &Telemetry, w: impl Write) -> PolarsResult<()> {
    write_parquet_in(t, w, crate::cores::cores())
}

/// [`write_parquet`] on `threads` threads (the bytes are the same for any).
pub fn write_parquet_in(t: &Telemetry, w: impl Write, threads: usize) -> PolarsResult<()> {
    let schema = schema();
    let parquet = to_parquet_schema(&schema)?;
    let types = parquet.fields().to_vec();
    let columns = schema.len();
    let mut writer = FileWriter::new_with_parquet_schema(w, schema, parquet, options());
    let mut start = 0;
    while start < t.len() {
        let range = start..(start + ROW_GROUP).min(t.len());
        let by_column = crate::cores::on_cores((0..columns).collect(), threads, |c| encode_column(t, c, range.clone(), &types))
            .into_iter()
            .collect::<PolarsResult<Vec<Vec<CompressedPage>>>>()?;
        let group = DynIter::new(
            by_column
                .iter()
                .map(|pages| Ok(DynStreamingIterator::new(fallible_streaming_iterator::convert(pages.iter().map(PolarsResult::Ok))))),
        );
        writer.write(range.len() as u64, group)?;
        start = range.end;
    }
    writer.end(None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    #[test]
    fn dictionaries_keep_first_sight_order_bits_and_nulls() {
        let (dict, keys) = float_dictionary(&[1.0, f64::NAN, 1.0, 2.0, -0.0, 0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(dict.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), [1.0f64, 2.0, -0.0, 0.0].map(f64::to_bits));
        assert_eq!(keys, [0, 0, 0, 1, 2, 3, 1, 0, 0, 0, 0, 0]);
        // Past the table's first sizes: every key finds its value again.
        let v: Vec<f64> = (0..10_000).map(|i| f64::from(i % 3_000) * 0.25).collect();
        let (dict, keys) = float_dictionary(&v).unwrap();
        assert_eq!(dict.len(), 3_000);
        assert!(keys.iter().zip(&v).all(|(k, x)| dict[*k as usize] == *x));
        // More than half the rows distinct: plain.
        let v: Vec<f64> = (0..1_000).map(f64::from).collect();
        assert!(float_dictionary(&v).is_none());
    }

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
        let meta = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&buf)).unwrap();
        let cols = meta.row_groups[0].parquet_columns();
        let dict = |name: &str| {
            let c = cols.iter().find(|c| c.descriptor().path_in_schema[0].as_str() == name).unwrap();
            c.dictionary_page_offset().is_some()
        };
        assert!(!dict("time_ns"), "delta-encoded");
        assert!(dict("gpu") && dict("power_w"), "few values: a dictionary");
        assert!(!dict("energy_j"), "every value distinct: plain");
        assert!(!dict("temp_c"), "all null: no values at all");
    }
}
