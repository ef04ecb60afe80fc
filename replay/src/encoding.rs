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
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field as ArrowField};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1, DictPage};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::statistics::ParquetStatistics;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, Page, ParquetType, StatisticsOptions, Version,
    WriteOptions, array_to_columns, compress, fallible_streaming_iterator, to_parquet_schema, write_def_levels,
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

/// A column's dictionary: distinct values (by their bits, so -0 is not 0)
/// in order of first sight, and the key of each value that is not null
/// (nulls get none). `None` when more than `limit` values differ: plain is
/// then smaller and quicker to read.
fn dictionary<T: Copy>(values: &[T], bits_of: impl Fn(T) -> Option<u64>, limit: usize) -> Option<(Vec<u64>, Vec<u32>)> {
    // Open addressing on the value's bits; slots hold key + 1 (0 is empty).
    let slot_of = |b: u64, bits: u32| (b.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
    let mut bits = 10;
    let mut slots = vec![0u32; 1 << bits];
    let mut dict: Vec<u64> = Vec::new();
    let mut keys = Vec::with_capacity(values.len());
    // Telemetry repeats itself: the last value's key saves most lookups.
    let mut last: Option<(u64, u32)> = None;
    for &v in values {
        let Some(b) = bits_of(v) else { continue };
        if let Some((lb, lk)) = last
            && lb == b
        {
            keys.push(lk);
            continue;
        }
        let mut i = slot_of(b, bits);
        let key = loop {
            match slots[i] {
                0 => {
                    if dict.len() >= limit {
                        return None;
                    }
                    dict.push(b);
                    let k = (dict.len() - 1) as u32;
                    slots[i] = k + 1;
                    // Grow at half full, placing every value again.
                    if dict.len() * 2 > slots.len() {
                        bits += 1;
                        slots = vec![0u32; 1 << bits];
                        for (k, d) in dict.iter().enumerate() {
                            let mut j = slot_of(*d, bits);
                            while slots[j] != 0 {
                                j = (j + 1) & ((1 << bits) - 1);
                            }
                            slots[j] = k as u32 + 1;
                        }
                    }
                    break k;
                }
                s if dict[s as usize - 1] == b => break s - 1,
                _ => i = (i + 1) & ((1 << bits) - 1),
            }
        };
        last = Some((b, key));
        keys.push(key);
    }
    Some((dict, keys))
}

/// A float column's dictionary (NaN is null): see [`dictionary`]; `None`
/// when more than half the rows hold distinct values.
fn float_dictionary(v: &[f64]) -> Option<(Vec<f64>, Vec<u32>)> {
    let (dict, keys) = dictionary(v, |x: f64| (!x.is_nan()).then(|| x.to_bits()), v.len() / 2)?;
    Some((dict.into_iter().map(f64::from_bits).collect(), keys))
}

/// Appends `v` as an unsigned LEB128 varint (Parquet's run headers).
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `values` in Parquet's RLE / bit-packing hybrid at `width` bits:
/// a run of 8 or more equal values is one RLE run, the rest bit-packed in
/// groups of 8 (the last group padded with zeros, which readers ignore:
/// they know the count). Telemetry's dictionary keys are mostly runs, which
/// polars' generic encoder does not look for ahead.
fn rle_hybrid(out: &mut Vec<u8>, values: &[u32], width: u32) {
    let bytes = width.div_ceil(8) as usize;
    let run_at = |i: usize| values[i..].iter().take_while(|v| **v == values[i]).count();
    let pack = |out: &mut Vec<u8>, lit: &[u32]| {
        let groups = lit.len().div_ceil(8);
        varint(out, ((groups as u64) << 1) | 1);
        let (mut acc, mut nbits) = (0u64, 0u32);
        for k in 0..groups * 8 {
            acc |= u64::from(lit.get(k).copied().unwrap_or(0)) << nbits;
            nbits += width;
            while nbits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                nbits -= 8;
            }
        }
    };
    let mut lit_from: Option<usize> = None;
    let mut i = 0;
    while i < values.len() {
        let mut run = run_at(i);
        if run >= 8 {
            if let Some(from) = lit_from {
                // Literals go in whole groups of 8: the run lends the padding.
                let pad = (8 - (i - from) % 8) % 8;
                if run - pad < 8 {
                    i += run;
                    continue;
                }
                pack(out, &values[from..i + pad]);
                lit_from = None;
                i += pad;
                run -= pad;
            }
            varint(out, (run as u64) << 1);
            out.extend_from_slice(&values[i].to_le_bytes()[..bytes]);
            i += run;
        } else {
            lit_from.get_or_insert(i);
            i += run;
        }
    }
    if let Some(from) = lit_from {
        pack(out, &values[from..]);
    }
}

/// Rows per data page of dictionary keys: polars' choice for 4-byte keys
/// under [`DATA_PAGE`].
const KEY_PAGE_ROWS: usize = DATA_PAGE / 4;

/// A dictionary-encoded column chunk built here: the dictionary page
/// (`dict_len` values, already in plain encoding) and data pages of
/// definition levels and RLE-hybrid keys (`keys` holds the non-null rows'
/// keys in order; `valid` says which rows are not null, `None` for all).
fn dictionary_pages(
    plain_dict: Vec<u8>,
    dict_len: usize,
    keys: &[u32],
    valid: Option<&Bitmap>,
    rows: usize,
    type_: &PrimitiveType,
) -> PolarsResult<Vec<Page>> {
    let width = 32 - (dict_len.max(1) as u32 - 1).leading_zeros();
    let mut pages = vec![Page::Dict(DictPage::new(CowBuffer::Owned(plain_dict), dict_len, false))];
    let (mut row, mut key) = (0, 0);
    while row < rows || (rows == 0 && pages.len() == 1) {
        let n = KEY_PAGE_ROWS.min(rows - row);
        let slice = valid.map(|v| v.clone().sliced(row, n));
        let nulls = slice.as_ref().map_or(0, Bitmap::unset_bits);
        let mut buf = Vec::with_capacity(16 + n / 4);
        write_def_levels(&mut buf, true, slice.as_ref(), n, Version::V1)?;
        buf.push(width as u8);
        rle_hybrid(&mut buf, &keys[key..key + n - nulls], width);
        pages.push(data_page(buf, n, nulls, Encoding::RleDictionary, type_));
        row += n;
        key += n - nulls;
        if rows == 0 {
            break;
        }
    }
    Ok(pages)
}

/// A column chunk of `rows` nulls: data pages of definition levels alone,
/// each one RLE run of zeros, and no values.
fn null_pages(rows: usize, type_: &PrimitiveType) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut row = 0;
    loop {
        let n = KEY_PAGE_ROWS.min(rows - row);
        let mut levels = Vec::new();
        varint(&mut levels, (n as u64) << 1);
        levels.push(0);
        let mut buf = (levels.len() as u32).to_le_bytes().to_vec();
        buf.extend_from_slice(&levels);
        pages.push(data_page(buf, n, n, Encoding::Plain, type_));
        row += n;
        if row >= rows {
            return pages;
        }
    }
}

/// A version-1 data page of `rows` rows, `nulls` of them null.
fn data_page(buf: Vec<u8>, rows: usize, nulls: usize, encoding: Encoding, type_: &PrimitiveType) -> Page {
    let header = DataPageHeaderV1 {
        num_values: rows as i32,
        encoding: encoding.into(),
        definition_level_encoding: Encoding::Rle.into(),
        repetition_level_encoding: Encoding::Rle.into(),
        statistics: Some(null_count(nulls)),
    };
    let descriptor = Descriptor { primitive_type: type_.clone(), max_def_level: 0, max_rep_level: 0 };
    Page::Data(DataPage::new(DataPageHeader::V1(header), CowBuffer::Owned(buf), descriptor, rows))
}

/// Page statistics with the null count alone (see [`options`]).
fn null_count(nulls: usize) -> ParquetStatistics {
    ParquetStatistics {
        max: None,
        min: None,
        null_count: Some(nulls as i64),
        distinct_count: None,
        max_value: None,
        min_value: None,
        is_max_value_exact: None,
        is_min_value_exact: None,
    }
}

/// One column of a row group, ready to compress: an array for polars to
/// encode, or pages built here.
enum Prepared {
    Array(Box<dyn Array>, Encoding),
    Pages(Vec<Page>),
}

/// The validity of a column whose nulls `is_null` marks, if it has any.
fn validity<T>(v: &[T], is_null: impl Fn(&T) -> bool) -> Option<Bitmap> {
    v.iter().any(&is_null).then(|| v.iter().map(|x| !is_null(x)).collect())
}

/// A measurement column (NaN where missing) as pages of a dictionary, or
/// plain when more than half its values differ.
fn measurement(v: &[f64], type_: &PrimitiveType) -> PolarsResult<Prepared> {
    let valid = validity(v, |x| x.is_nan());
    if valid.as_ref().is_some_and(|m| m.set_bits() == 0) {
        return Ok(Prepared::Pages(null_pages(v.len(), type_)));
    }
    match float_dictionary(v) {
        Some((dict, keys)) => {
            let plain = dict.iter().flat_map(|d| d.to_le_bytes()).collect();
            Ok(Prepared::Pages(dictionary_pages(plain, dict.len(), &keys, valid.as_ref(), v.len(), type_)?))
        }
        None => {
            let values: Vec<f64> = v.iter().map(|x| if x.is_nan() { 0.0 } else { *x }).collect();
            Ok(Prepared::Array(Box::new(PrimitiveArray::new(ArrowDataType::Float64, values.into(), valid)), Encoding::Plain))
        }
    }
}

/// `gpu` for rows `range`: a dictionary of the GPUs' ids (Parquet's INT32,
/// as polars writes a `u32`).
fn gpus(g: &[u32], type_: &PrimitiveType) -> PolarsResult<Prepared> {
    let (dict, keys) = dictionary(g, |g: u32| Some(u64::from(g)), usize::MAX).unwrap_or_default();
    let plain = dict.iter().flat_map(|d| (*d as u32 as i32).to_le_bytes()).collect();
    Ok(Prepared::Pages(dictionary_pages(plain, dict.len(), &keys, None, g.len(), type_)?))
}

/// `throttle_reasons` for rows `range`: a dictionary of the bitmasks
/// (Parquet's INT64), or plain when more than half differ.
fn throttles(v: &[Option<u64>], type_: &PrimitiveType) -> PolarsResult<Prepared> {
    let valid = validity(v, Option::is_none);
    match dictionary(v, |x| x, v.len() / 2) {
        Some((dict, keys)) => {
            let plain = dict.iter().flat_map(|d| (*d as i64).to_le_bytes()).collect();
            Ok(Prepared::Pages(dictionary_pages(plain, dict.len(), &keys, valid.as_ref(), v.len(), type_)?))
        }
        None => {
            let (values, valid) = nullable(v);
            Ok(Prepared::Array(Box::new(PrimitiveArray::new(ArrowDataType::UInt64, values.into(), valid)), Encoding::Plain))
        }
    }
}

/// `gpu_name` for rows `range`: keys into the GPUs' names, null where a GPU
/// has none.
fn gpu_names(t: &Telemetry, range: std::ops::Range<usize>, type_: &PrimitiveType) -> PolarsResult<Prepared> {
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
    let valid = validity(&idx, Option::is_none);
    let keys: Vec<u32> = idx.iter().flatten().copied().collect();
    // Plain byte arrays: each name's length (4 bytes), then its bytes.
    let mut plain = Vec::new();
    for name in t.names.values() {
        plain.extend_from_slice(&(name.len() as u32).to_le_bytes());
        plain.extend_from_slice(name.as_bytes());
    }
    Ok(Prepared::Pages(dictionary_pages(plain, t.names.len(), &keys, valid.as_ref(), idx.len(), type_)?))
}

/// Column `c` (in [`schema`] order) of rows `range`.
fn prepare(t: &Telemetry, c: usize, range: std::ops::Range<usize>, type_: &PrimitiveType) -> PolarsResult<Prepared> {
    match c {
        0 => Ok(Prepared::Array(
            Box::new(PrimitiveArray::new(ArrowDataType::Int64, t.time_ns[range].to_vec().into(), None)),
            Encoding::DeltaBinaryPacked,
        )),
        1 => gpus(&t.gpu[range], type_),
        2 => gpu_names(t, range, type_),
        c if c < 3 + Field::COUNT => measurement(&t.column(Field::ALL[c - 3])[range], type_),
        _ => throttles(&t.throttle_reasons[range], type_),
    }
}

/// Column `c` of rows `range`, encoded and compressed.
fn encode_column(t: &Telemetry, c: usize, range: std::ops::Range<usize>, types: &[ParquetType]) -> PolarsResult<Vec<CompressedPage>> {
    let ParquetType::PrimitiveType(type_) = &types[c] else { unreachable!("the canonical schema is flat") };
    let pages: Vec<Page> = match prepare(t, c, range, type_)? {
        Prepared::Pages(pages) => pages,
        Prepared::Array(array, encoding) => {
            let mut pages = Vec::new();
            for column in array_to_columns(array, types[c].clone(), options(), &[encoding])? {
                for page in column {
                    pages.push(page?);
                }
            }
            pages
        }
    };
    Ok(pages.into_iter().map(|page| compress(page, Vec::new(), options().compression)).collect::<Result<_, _>>()?)
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
        assert_eq!(keys, [0, 0, 1, 2, 3, 1, 0, 0, 0, 0, 0], "a null has no key");
        // Past the table's first sizes: every key finds its value again.
        let v: Vec<f64> = (0..10_000).map(|i| f64::from(i % 3_000) * 0.25).collect();
        let (dict, keys) = float_dictionary(&v).unwrap();
        assert_eq!(dict.len(), 3_000);
        assert!(keys.iter().zip(&v).all(|(k, x)| dict[*k as usize] == *x));
        // More than half the rows distinct: plain.
        let v: Vec<f64> = (0..1_000).map(f64::from).collect();
        assert!(float_dictionary(&v).is_none());
    }

    /// Parquet's RLE / bit-packing hybrid, decoded the plain way the
    /// format describes it.
    fn decode_hybrid(mut b: &[u8], width: u32, count: usize) -> Vec<u32> {
        let varint = |b: &mut &[u8]| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    return v;
                }
            }
        };
        let mut out = Vec::new();
        while out.len() < count {
            let header = varint(&mut b);
            if header & 1 == 0 {
                let bytes = width.div_ceil(8) as usize;
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&b[..bytes]);
                b = &b[bytes..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(v), (header >> 1) as usize));
            } else {
                let n = (header >> 1) as usize * 8;
                for k in 0..n {
                    let bit = k * width as usize;
                    let mut v = 0u32;
                    for j in 0..width as usize {
                        v |= u32::from((b[(bit + j) / 8] >> ((bit + j) % 8)) & 1) << j;
                    }
                    out.push(v);
                }
                b = &b[n * width as usize / 8..];
            }
        }
        assert!(b.is_empty(), "{} bytes left over", b.len());
        out.truncate(count);
        out
    }

    #[test]
    fn rle_hybrid_reads_back_for_runs_literals_and_widths() {
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for width in [0u32, 1, 3, 8, 9, 17, 32] {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 100, 1_000] {
                let max = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
                // Runs of random lengths (many shorter than 8) of random values.
                let mut v = Vec::with_capacity(len);
                while v.len() < len {
                    let x = (next() as u32) & max;
                    let run = [1, 1, 2, 7, 8, 9, 20][next() as usize % 7];
                    v.extend(std::iter::repeat_n(x, run.min(len - v.len())));
                }
                let mut buf = Vec::new();
                rle_hybrid(&mut buf, &v, width);
                assert_eq!(decode_hybrid(&buf, width, len), v, "width {width}, {len} values");
            }
        }
        // A constant column is one RLE run: a header and the value.
        let mut buf = Vec::new();
        rle_hybrid(&mut buf, &[5; 65_536], 3);
        assert_eq!(buf, [0x80, 0x80, 0x08, 5]);
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
