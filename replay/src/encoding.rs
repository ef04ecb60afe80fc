//! Canonical telemetry encoded as Parquet column by column, with the
//! encoding each column suits, written through polars' own Parquet writer
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
//! | `time_ns` | delta, bit-packed, by polars (rows arrive in time order: small deltas) |
//! | `gpu`, `gpu_name` | dictionary |
//! | measurements, `throttle_reasons` | dictionary, or plain when more than half the values differ |
//! | a column with no values | definition levels alone |
//!
//! The pages of every column but `time_ns` are made here: a dictionary built
//! in one pass with a small hash table, then data pages of definition levels
//! and keys in Parquet's RLE / bit-packing hybrid, which turns telemetry's
//! long runs of equal readings into a few bytes. Keys are made a page at a
//! time, so a column needs no key array as long as itself. Pages are
//! compressed (LZ4) on all cores, a column per task; the bytes do not
//! depend on how many cores there are.

use crate::{Field, Telemetry};
use polars::prelude::{PlSmallStr, PolarsResult};
use polars_arrow::array::PrimitiveArray;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field as ArrowField};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1, DictPage};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::statistics::ParquetStatistics;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, Page, ParquetType, StatisticsOptions, Version,
    WriteOptions, array_to_columns, compress, fallible_streaming_iterator, to_parquet_schema,
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

/// A column's dictionary as it is built: distinct values (by their bits,
/// so -0 is not 0) in order of first sight, found again through a small
/// open-addressing table.
struct Dictionary {
    /// Key + 1 of the value hashed there (0: empty).
    slots: Vec<u32>,
    bits: u32,
    values: Vec<u64>,
    /// Telemetry repeats itself: the last value's key saves most lookups.
    last: Option<(u64, u32)>,
    /// The most distinct values before the column is better plain.
    limit: usize,
}

impl Dictionary {
    fn new(limit: usize) -> Dictionary {
        Dictionary { slots: vec![0; 1 << 10], bits: 10, values: Vec::new(), last: None, limit }
    }

    fn slot_of(b: u64, bits: u32) -> usize {
        (b.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The key of `b`, added if new; `None` once more than `limit` values differ.
    #[inline(always)]
    fn key(&mut self, b: u64) -> Option<u32> {
        match self.last {
            Some((lb, lk)) if lb == b => Some(lk),
            _ => self.lookup(b),
        }
    }

    /// [`Dictionary::key`] for a value other than the last.
    #[inline]
    fn lookup(&mut self, b: u64) -> Option<u32> {
        let mask = (1 << self.bits) - 1;
        let mut i = Self::slot_of(b, self.bits);
        let key = loop {
            match self.slots[i] {
                0 => break self.add(b)?,
                s if self.values[s as usize - 1] == b => break s - 1,
                _ => i = (i + 1) & mask,
            }
        };
        self.last = Some((b, key));
        Some(key)
    }

    /// Adds a value not yet in the table (rare: once per distinct value).
    #[cold]
    #[inline(never)]
    fn add(&mut self, b: u64) -> Option<u32> {
        if self.values.len() >= self.limit {
            return None;
        }
        self.values.push(b);
        let placed = if self.values.len() * 2 > self.slots.len() {
            // Grow at half full, placing every value again.
            self.bits += 1;
            self.slots = vec![0; 1 << self.bits];
            0
        } else {
            self.values.len() - 1
        };
        let mask = (1 << self.bits) - 1;
        for (k, d) in self.values.iter().enumerate().skip(placed) {
            let mut j = Self::slot_of(*d, self.bits);
            while self.slots[j] != 0 {
                j = (j + 1) & mask;
            }
            self.slots[j] = k as u32 + 1;
        }
        Some(self.values.len() as u32 - 1)
    }

    /// Bits a key needs: enough for the largest, 0 for one value.
    fn width(&self) -> u32 {
        32 - (self.values.len().max(1) as u32 - 1).leading_zeros()
    }
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
/// they know the count). Telemetry's dictionary keys are mostly runs.
fn rle_hybrid(out: &mut Vec<u8>, values: &[u32], width: u32) {
    let bytes = width.div_ceil(8) as usize;
    // Runs are often whole pages long (names, limits, idle clocks): they
    // are measured 16 values at a time, a comparison the compiler vectorises.
    let run_at = |i: usize| {
        let v = values[i];
        // Most runs between literals are short: one value at a time first.
        let mut j = i + 1;
        while j < values.len() && j < i + 8 && values[j] == v {
            j += 1;
        }
        if j < i + 8 {
            return j - i;
        }
        while let Some(block) = values.get(j..j + 16) {
            if block.iter().fold(0u32, |n, x| n + u32::from(*x != v)) != 0 {
                break;
            }
            j += 16;
        }
        while j < values.len() && values[j] == v {
            j += 1;
        }
        j - i
    };
    let pack = |out: &mut Vec<u8>, lit: &[u32]| {
        let groups = lit.len().div_ceil(8);
        varint(out, ((groups as u64) << 1) | 1);
        out.reserve(groups * width as usize);
        // A group of 8 values is `width` bytes: built in one word when
        // they fit (keys of up to 256 values), value by value otherwise.
        let mut group = [0u32; 8];
        for g in 0..groups {
            let from = g * 8;
            let part = &lit[from..(from + 8).min(lit.len())];
            group[..part.len()].copy_from_slice(part);
            group[part.len()..].fill(0);
            if width <= 8 {
                let word = group.iter().enumerate().fold(0u64, |w, (k, v)| w | (u64::from(*v) << (k as u32 * width)));
                out.extend_from_slice(&word.to_le_bytes()[..width as usize]);
            } else {
                let (mut acc, mut nbits) = (0u64, 0u32);
                for v in group {
                    acc |= u64::from(v) << nbits;
                    nbits += width;
                    while nbits >= 8 {
                        out.push(acc as u8);
                        acc >>= 8;
                        nbits -= 8;
                    }
                }
            }
        }
    };
    let mut lit_from: Option<usize> = None;
    let mut i = 0;
    while i < values.len() {
        // Inside literals (a GPU's index, a varying reading), eight values
        // at a time while no two neighbours are equal: no run starts there.
        if lit_from.is_some()
            && let Some(block) = values.get(i..i + 9)
            && block.windows(2).fold(0u32, |n, w| n | u32::from(w[0] == w[1])) == 0
        {
            i += 8;
            continue;
        }
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

/// Rows per data page: polars' choice for 4-byte dictionary keys under
/// [`DATA_PAGE`].
const PAGE_ROWS: usize = DATA_PAGE / 4;

/// A column's rows cut into data pages (one empty page for no rows).
fn pages_of<T>(values: &[T]) -> Vec<&[T]> {
    if values.is_empty() { vec![values] } else { values.chunks(PAGE_ROWS).collect() }
}

/// Starts a page's buffer with its definition levels (version 1: their
/// length, then the RLE / bit-packing hybrid at one bit) and gives the
/// number of nulls. A column without nulls, or with nothing else, is one run.
fn def_levels<T: Copy>(buf: &mut Vec<u8>, page: &[T], valid: impl Fn(T) -> bool) -> usize {
    let nulls = page.iter().filter(|v| !valid(**v)).count();
    levels_with(buf, page, nulls, valid);
    nulls
}

/// [`def_levels`] for a page whose nulls are counted already.
fn levels_with<T: Copy>(buf: &mut Vec<u8>, page: &[T], nulls: usize, valid: impl Fn(T) -> bool) {
    let mut levels = Vec::new();
    if nulls == 0 || nulls == page.len() {
        varint(&mut levels, (page.len() as u64) << 1);
        levels.push(u8::from(nulls == 0));
    } else {
        let bits: Vec<u32> = page.iter().map(|v| u32::from(valid(*v))).collect();
        rle_hybrid(&mut levels, &bits, 1);
    }
    buf.extend_from_slice(&(levels.len() as u32).to_le_bytes());
    buf.extend_from_slice(&levels);
}

/// Whether every value of `page` has the same bits (or every one is null):
/// then its keys are one run. Blocks of 32 without a branch inside, so that
/// the compare is vectorised.
fn constant<T: Copy>(page: &[T], bits_of: impl Fn(T) -> Option<u64>) -> bool {
    let Some(&first) = page.first() else { return true };
    let first = bits_of(first);
    let (blocks, rest) = page.as_chunks::<32>();
    blocks.iter().all(|b| b.iter().fold(true, |same, v| same & (bits_of(*v) == first))) && rest.iter().all(|v| bits_of(*v) == first)
}

/// A column chunk dictionary-encoded: a dictionary page (`plain` turns the
/// values' bits into their plain encoding), then data pages of definition
/// levels and keys, each key page with the width the dictionary has by its
/// end. `None` when more than `limit` values differ. A column of nulls
/// alone gets no dictionary: definition levels only.
fn dictionary_column<T: Copy>(
    values: &[T],
    bits_of: impl Fn(T) -> Option<u64>,
    limit: usize,
    plain: impl Fn(&[u64]) -> Vec<u8>,
    type_: &PrimitiveType,
) -> Option<Vec<Page>> {
    let mut dict = Dictionary::new(limit);
    let mut keys = Vec::with_capacity(PAGE_ROWS.min(values.len()));
    // Each page's buffer, where its definition levels end, rows and nulls.
    let mut built = vec![];
    for page in pages_of(values) {
        keys.clear();
        let mut nulls = 0;
        if constant(page, &bits_of) {
            // Telemetry's limits, totals and idle clocks: one value a page.
            match page.first().and_then(|v| bits_of(*v)) {
                Some(b) => keys.resize(page.len(), dict.key(b)?),
                None => nulls = page.len(),
            }
        } else {
            for &v in page {
                match bits_of(v) {
                    Some(b) => keys.push(dict.key(b)?),
                    None => nulls += 1,
                }
            }
        }
        let mut buf = Vec::with_capacity(64 + keys.len() / 4);
        levels_with(&mut buf, page, nulls, |v| bits_of(v).is_some());
        let levels_end = buf.len();
        buf.push(dict.width() as u8);
        rle_hybrid(&mut buf, &keys, dict.width());
        built.push((buf, levels_end, page.len(), nulls));
    }
    if dict.values.is_empty() {
        // Nothing but nulls: the definition levels alone, plain, with no
        // dictionary (what `plain_column` writes for such a column).
        return Some(
            built
                .into_iter()
                .map(|(mut buf, levels_end, rows, nulls)| {
                    buf.truncate(levels_end);
                    data_page(buf, rows, nulls, Encoding::Plain, type_)
                })
                .collect(),
        );
    }
    let dict_page = DictPage::new(CowBuffer::Owned(plain(&dict.values)), dict.values.len(), false);
    let data = built.into_iter().map(|(buf, _, rows, nulls)| data_page(buf, rows, nulls, Encoding::RleDictionary, type_));
    Some(std::iter::once(Page::Dict(dict_page)).chain(data).collect())
}

/// A column chunk in plain encoding: definition levels, then the first
/// `bytes` bytes (little-endian) of each value that is not null.
fn plain_column<T: Copy>(values: &[T], bits_of: impl Fn(T) -> Option<u64>, bytes: usize, type_: &PrimitiveType) -> Vec<Page> {
    pages_of(values)
        .into_iter()
        .map(|page| {
            let mut buf = Vec::with_capacity(64 + page.len() * bytes);
            let nulls = def_levels(&mut buf, page, |v| bits_of(v).is_some());
            for &v in page {
                if let Some(b) = bits_of(v) {
                    buf.extend_from_slice(&b.to_le_bytes()[..bytes]);
                }
            }
            data_page(buf, page.len(), nulls, Encoding::Plain, type_)
        })
        .collect()
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

/// Page statistics with the null count alone (see [`options`]); a
/// column's count is the sum of its pages'.
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

/// The plain encoding of 8-byte values (`f64`, `i64`) from their bits.
fn plain8(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A column of 8-byte values (their bits; `None` for a null): a
/// dictionary, or plain when more than half the values differ (an all-null
/// column is definition levels alone).
fn dictionary_or_plain8<T: Copy>(v: &[T], bits_of: impl Fn(T) -> Option<u64> + Copy, type_: &PrimitiveType) -> Vec<Page> {
    dictionary_column(v, bits_of, v.len() / 2, plain8, type_).unwrap_or_else(|| plain_column(v, bits_of, 8, type_))
}

/// A measurement column (NaN where missing).
fn measurement(v: &[f64], type_: &PrimitiveType) -> Vec<Page> {
    dictionary_or_plain8(v, |x: f64| (!x.is_nan()).then(|| x.to_bits()), type_)
}

/// `time_ns`: delta-encoded by polars (rows come in time order, so the
/// deltas are small).
fn times(v: &[i64], type_: &ParquetType) -> PolarsResult<Vec<Page>> {
    let array = PrimitiveArray::new(ArrowDataType::Int64, v.to_vec().into(), None).boxed();
    let mut pages = Vec::new();
    for column in array_to_columns(array, type_.clone(), options(), &[Encoding::DeltaBinaryPacked])? {
        for page in column {
            pages.push(page?);
        }
    }
    Ok(pages)
}

/// `gpu`: a dictionary of the GPUs' ids (Parquet's INT32, as polars writes a `u32`).
fn gpus(g: &[u32], type_: &PrimitiveType) -> Vec<Page> {
    let plain = |ids: &[u64]| ids.iter().flat_map(|d| (*d as u32 as i32).to_le_bytes()).collect();
    dictionary_column(g, |g| Some(u64::from(g)), usize::MAX, plain, type_).unwrap_or_default()
}

/// `throttle_reasons`: a dictionary of the bitmasks (Parquet's INT64), or
/// plain when more than half differ.
fn throttles(v: &[Option<u64>], type_: &PrimitiveType) -> Vec<Page> {
    dictionary_or_plain8(v, |x| x, type_)
}

/// `gpu_name`: a dictionary of the GPUs' names, null where a GPU has none.
/// The dictionary is built over each name's position among the names, and
/// its page holds the names themselves (plain byte arrays: length, bytes).
fn gpu_names(t: &Telemetry, range: std::ops::Range<usize>, type_: &PrimitiveType) -> Vec<Page> {
    let names: Vec<&String> = t.names.values().collect();
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
    let plain = |positions: &[u64]| {
        let mut out = Vec::new();
        for p in positions {
            let name = names[*p as usize].as_bytes();
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name);
        }
        out
    };
    dictionary_column(&t.gpu[range], |g| pos(g).map(u64::from), usize::MAX, plain, type_).unwrap_or_default()
}

/// Column `c` (in [`schema`] order) of rows `range`, encoded and compressed.
fn encode_column(t: &Telemetry, c: usize, range: std::ops::Range<usize>, types: &[ParquetType]) -> PolarsResult<Vec<CompressedPage>> {
    let ParquetType::PrimitiveType(type_) = &types[c] else { unreachable!("the canonical schema is flat") };
    let pages = match c {
        0 => times(&t.time_ns[range], &types[c])?,
        1 => gpus(&t.gpu[range], type_),
        2 => gpu_names(t, range, type_),
        c if c < 3 + Field::COUNT => measurement(&t.column(Field::ALL[c - 3])[range], type_),
        _ => throttles(&t.throttle_reasons[range], type_),
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

    /// A float column's dictionary values and keys (nulls get none), or
    /// `None` when more than half the rows differ.
    fn float_dictionary(v: &[f64]) -> Option<(Vec<f64>, Vec<u32>)> {
        let mut d = Dictionary::new(v.len() / 2);
        let keys = v.iter().filter(|x| !x.is_nan()).map(|x| d.key(x.to_bits())).collect::<Option<Vec<u32>>>()?;
        Some((d.values.iter().map(|b| f64::from_bits(*b)).collect(), keys))
    }

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
        // Key widths: 0 bits for one value, then enough for the largest key.
        let mut d = Dictionary::new(usize::MAX);
        assert_eq!(d.width(), 0);
        for (n, w) in [(1u64, 0), (2, 1), (3, 2), (4, 2), (5, 3), (256, 8), (257, 9)] {
            while (d.values.len() as u64) < n {
                d.key(d.values.len() as u64 * 7919).unwrap();
            }
            assert_eq!(d.width(), w, "{n} values");
        }
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
                // Runs of random lengths (many shorter than 8, some ending inside or
                // just past a 16-value block of the run scan) of random values.
                let mut v = Vec::with_capacity(len);
                // Literals alone for a stretch: no two neighbours equal
                // (a GPU index cycling, a varying reading).
                let cycle = 1 + next() as usize % 40;
                v.extend((0..cycle.min(len)).map(|i| (i as u32 % 5) & max));
                while v.len() < len {
                    let x = (next() as u32) & max;
                    let run = [1, 1, 2, 7, 8, 9, 20, 24, 25, 41, 100][next() as usize % 11];
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
