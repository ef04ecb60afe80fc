//! `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`: any column
//! set, in any order, with or without units.
//!
//! The header names the columns, each with its unit in brackets
//! (`power.draw [W]`); values carry the unit too (`77.25 W`) unless
//! `nounits` was given. `[N/A]`, `[Not Supported]` and any other bracketed
//! word are no value. Fields are separated by `, `. `clocks_event_reasons.active`
//! (formerly `clocks_throttle_reasons.active`) is a hex bitmask. Times are
//! the machine's clock, `YYYY/MM/DD HH:MM:SS.mmm`, read as UTC.

use crate::line_diff::LineDiff;
use crate::telemetry::Field;
use crate::timefmt::parse_timestamp;
use crate::{ReadOptions, ReadReport, ReplayError, Sample, Telemetry};
use std::mem::MaybeUninit;

/// What a source column becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Time,
    Gpu,
    Name,
    Value(Field),
    Throttle,
    Ignored,
    /// Only on the fast path's plan: send the row to the slow path.
    Slow,
}

/// A column: its target, its header unit and how to scale values in that unit.
#[derive(Clone, Debug)]
struct Column {
    name: String,
    target: Target,
    unit: Option<String>,
}

fn target_of(name: &str) -> Target {
    match name {
        "timestamp" => Target::Time,
        "index" => Target::Gpu,
        "name" | "gpu_name" => Target::Name,
        "utilization.gpu" => Target::Value(Field::UtilGpu),
        "utilization.memory" => Target::Value(Field::UtilMem),
        "memory.used" => Target::Value(Field::MemUsed),
        "memory.total" => Target::Value(Field::MemTotal),
        "power.draw" | "power.draw.instant" | "power.draw.average" => Target::Value(Field::Power),
        "power.limit" | "enforced.power.limit" => Target::Value(Field::PowerLimit),
        "temperature.gpu" => Target::Value(Field::Temp),
        "temperature.memory" => Target::Value(Field::MemTemp),
        "clocks.sm" | "clocks.current.sm" => Target::Value(Field::SmClock),
        "clocks.mem" | "clocks.current.memory" => Target::Value(Field::MemClock),
        "clocks_event_reasons.active" | "clocks_throttle_reasons.active" | "clocks_event_reasons" => Target::Throttle,
        _ => Target::Ignored,
    }
}

/// The canonical unit of a field and the factor from `unit` to it, if known.
fn scale(field: Field, unit: &str) -> Option<f64> {
    let f = match (field, unit) {
        (Field::UtilGpu | Field::UtilMem | Field::SmActive, "%") => 1.0,
        (Field::MemUsed | Field::MemTotal, "MiB") => 1.0,
        (Field::MemUsed | Field::MemTotal, "GiB") => 1024.0,
        (Field::MemUsed | Field::MemTotal, "KiB") => 1.0 / 1024.0,
        (Field::MemUsed | Field::MemTotal, "MB") => 1.0,
        (Field::Power | Field::PowerLimit, "W") => 1.0,
        (Field::Power | Field::PowerLimit, "mW") => 1e-3,
        (Field::Energy, "J") => 1.0,
        (Field::Energy, "mJ") => 1e-3,
        (Field::Temp | Field::MemTemp, "C") => 1.0,
        (Field::SmClock | Field::MemClock, "MHz") => 1.0,
        (Field::SmClock | Field::MemClock, "GHz") => 1e3,
        _ => return None,
    };
    Some(f)
}

fn parse_header(line: &str) -> Vec<Column> {
    line.split(',')
        .map(|raw| {
            let raw = raw.trim();
            let (name, unit) = match raw.find('[') {
                Some(i) if raw.ends_with(']') => (raw[..i].trim(), Some(raw[i + 1..raw.len() - 1].trim().to_string())),
                _ => (raw, None),
            };
            Column { name: name.to_string(), target: target_of(name), unit }
        })
        .collect()
}

/// A value and its unit, or `None` for `[N/A]` and its kind.
fn split_value(v: &str) -> Option<(&str, Option<&str>)> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('[') || v == "N/A" {
        return None;
    }
    Some(match v.split_once(' ') {
        Some((num, unit)) => (num, Some(unit.trim())),
        None => (v, None),
    })
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_string() }
}

/// Why a row is bad: (field, message).
type RowError = (Option<String>, String);

fn parse_row(
    fields: &[&str],
    cols: &[Column],
    report: &mut ReadReport,
    last_name: &mut std::collections::BTreeMap<u32, String>,
) -> Result<Sample, RowError> {
    let mut s = Sample::default();
    let mut time = None;
    let mut gpu = None;
    let mut name = None;
    for (col, raw) in cols.iter().zip(fields) {
        let bad = |msg: String| (Some(col.name.clone()), msg);
        match col.target {
            Target::Ignored | Target::Slow => {}
            Target::Time => time = Some(parse_timestamp(raw).ok_or_else(|| bad(format!("`{}` is not a time", raw.trim())))?),
            Target::Gpu => gpu = Some(raw.trim().parse::<u32>().map_err(|_| bad(format!("`{}` is not a GPU index", raw.trim())))?),
            Target::Name => name = Some(raw.trim()).filter(|n| !n.is_empty()),
            Target::Throttle => {
                if let Some((v, _)) = split_value(raw) {
                    let hex = v.trim_start_matches("0x").trim_start_matches("0X");
                    s.throttle_reasons = Some(u64::from_str_radix(hex, 16).map_err(|_| bad(format!("`{v}` is not a hex bitmask")))?);
                }
            }
            Target::Value(field) => {
                let Some((num, unit)) = split_value(raw) else { continue };
                let x: f64 = num.parse().map_err(|_| bad(format!("`{}` is not a number", raw.trim())))?;
                if !x.is_finite() {
                    return Err(bad(format!("`{}` is not a finite number", raw.trim())));
                }
                let unit = match (unit, col.unit.as_deref()) {
                    (Some(u), Some(h)) if u != h => {
                        report.unit_mismatches += 1;
                        u
                    }
                    (Some(u), _) => u,
                    (None, Some(h)) => h,
                    (None, None) => "",
                };
                let factor = if unit.is_empty() { Some(1.0) } else { scale(field, unit) };
                let factor = factor.ok_or_else(|| bad(format!("unit `{unit}` is not one Twin knows for {}", field.column())))?;
                s.set(field, x * factor);
            }
        }
    }
    s.time_ns = time.ok_or((None, "no timestamp".to_string()))?;
    s.gpu = gpu.unwrap_or(0);
    if let Some(n) = name
        && last_name.get(&s.gpu).map(String::as_str) != Some(n)
    {
        last_name.insert(s.gpu, n.to_string());
        s.gpu_name = Some(n.to_string());
    }
    Ok(s)
}

/// How a column is read on the fast path: its target, the factor from the
/// header's unit to the canonical one, and that unit's bytes.
struct Plan {
    target: Target,
    header_factor: f64,
    unit: Option<Box<[u8]>>,
    /// Where its reading goes in a row's slots: a measurement's index, or
    /// [`TIME`], [`GPU`], [`THROTTLE`], [`NOWHERE`].
    dest: usize,
}

/// Row slots after the measurements: the time, the GPU, the bitmask, and
/// one that nothing reads (names and ignored columns).
const TIME: usize = Field::COUNT;
const GPU: usize = Field::COUNT + 1;
const THROTTLE: usize = Field::COUNT + 2;
const NOWHERE: usize = Field::COUNT + 3;
const SLOTS: usize = Field::COUNT + 4;

/// Row slots when nothing is read: measurements NaN, the rest 0.
const EMPTY_SLOTS: [u64; SLOTS] = {
    let mut slots = [0u64; SLOTS];
    let mut f = 0;
    while f < Field::COUNT {
        slots[f] = f64::NAN.to_bits();
        f += 1;
    }
    slots
};

/// Which canonical columns a file has: the rest are all null.
struct Layout {
    /// The fields some column fills, in [`Field`] order.
    fields: Vec<Field>,
    throttle: bool,
}

/// One chunk's share of the telemetry's columns, filled from the front:
/// rows land where they stay, with no copy between reading and the columns.
/// A chunk has at most one row per line, and its share is that long.
struct Rows<'a> {
    time_ns: &'a mut [MaybeUninit<i64>],
    gpu: &'a mut [MaybeUninit<u32>],
    /// The layout's fields, each with its share of the column.
    values: Vec<(Field, &'a mut [MaybeUninit<f64>])>,
    /// Empty unless the layout has the throttle column.
    throttle: &'a mut [MaybeUninit<Option<u64>>],
    /// Rows written: the first `len` of every share are.
    len: usize,
    names: std::collections::BTreeMap<u32, String>,
}

impl Rows<'_> {
    /// Appends a row: `slots` as they are (a slot not read holds its
    /// [`EMPTY_SLOTS`] value: NaN for a measurement, as in the telemetry's
    /// columns, since a value read is always finite), the bitmask where
    /// `has` has its bit. The one place rows are written: every share gets
    /// the row before it counts.
    #[inline(always)]
    fn push(&mut self, slots: &[u64; SLOTS], has: u32) {
        let i = self.len;
        self.time_ns[i].write(slots[TIME] as i64);
        self.gpu[i].write(slots[GPU] as u32);
        for (f, col) in &mut self.values {
            col[i].write(f64::from_bits(slots[*f as usize]));
        }
        if let Some(t) = self.throttle.get_mut(i) {
            t.write((has & (1 << THROTTLE) != 0).then_some(slots[THROTTLE]));
        }
        self.len += 1;
    }

    fn push_sample(&mut self, s: Sample) {
        let mut slots = EMPTY_SLOTS;
        let mut has = 1 << TIME | 1 << GPU;
        for (f, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                slots[f] = v.to_bits();
                has |= 1 << f;
            }
        }
        if let Some(t) = s.throttle_reasons {
            slots[THROTTLE] = t;
            has |= 1 << THROTTLE;
        }
        (slots[TIME], slots[GPU]) = (s.time_ns as u64, u64::from(s.gpu));
        if let Some(n) = s.gpu_name {
            self.names.insert(s.gpu, n);
        }
        self.push(&slots, has);
    }
}

/// `s` cut into consecutive pieces of `lens` (which sum to at most its length).
fn split_into<'a, T>(mut s: &'a mut [T], lens: &[usize]) -> Vec<&'a mut [T]> {
    lens.iter()
        .map(|&n| {
            let (head, rest) = std::mem::take(&mut s).split_at_mut(n);
            s = rest;
            head
        })
        .collect()
}

/// What one chunk of lines gave.
struct ChunkOut {
    /// Rows written to the chunk's share.
    rows: usize,
    names: std::collections::BTreeMap<u32, String>,
    /// (line index in the chunk, field, message).
    problems: Vec<(usize, Option<String>, String)>,
    lines: usize,
    /// Newlines in the chunk: where the next one starts.
    newlines: usize,
    truncated: bool,
    unit_mismatches: usize,
}

const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// A decimal without exponent from `p`, as nvidia-smi writes it: an
/// optional `-`, digits, optionally a point and more digits, at most 15 in
/// all. Exactly rounded (digits and a power of ten both exact in f64, one
/// rounding in the division). Gives the value and where it ends; `None`
/// for anything else, which the slow path then reads.
#[inline(always)]
fn decimal(b: &[u8], mut p: usize) -> Option<(f64, usize)> {
    let neg = b.get(p) == Some(&b'-');
    p += usize::from(neg);
    // Digits, then a point and more digits: two tight loops.
    let mut int = 0u64;
    let mut digits_from = |mut p: usize| {
        while let Some(d) = b.get(p).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10) {
            int = int.wrapping_mul(10).wrapping_add(u64::from(d));
            p += 1;
        }
        p
    };
    let start = p;
    p = digits_from(p);
    let mut digits = p - start;
    let mut scale = 0;
    if b.get(p) == Some(&b'.') {
        let after = digits_from(p + 1);
        scale = after - p - 1;
        digits += scale;
        p = after;
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    // Below 10^15, so exact through i64 (a single instruction, where u64 takes several).
    let int = int as i64 as f64;
    let v = if scale == 0 { int } else { int / POW10[scale] };
    Some((if neg { -v } else { v }, p))
}

/// A GPU index as nvidia-smi writes it, from `p`: spaces, up to nine
/// digits, then the field's end (spaces and `\r` allowed before it); gives
/// the index and where the field ends, `None` for anything else.
#[inline]
fn plain_index(b: &[u8], mut p: usize) -> Option<(u32, usize)> {
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    let (from, mut v) = (p, 0u32);
    while let Some(d) = b.get(p).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10) {
        v = v.wrapping_mul(10).wrapping_add(u32::from(d));
        p += 1;
    }
    let digits = p - from;
    while matches!(b.get(p), Some(b' ' | b'\r')) {
        p += 1;
    }
    ((1..=9).contains(&digits) && matches!(b.get(p), None | Some(b',' | b'\n'))).then_some((v, p))
}

/// A GPU index filling the field `f`.
#[inline]
fn index_in(f: &[u8]) -> Option<u32> {
    plain_index(f, 0).filter(|(_, end)| *end == f.len()).map(|(g, _)| g)
}

/// Up to 16 hex digits, after an optional `0x`.
#[inline]
fn fast_hex(f: &[u8]) -> Option<u64> {
    let hex = f.strip_prefix(b"0x").or_else(|| f.strip_prefix(b"0X")).unwrap_or(f);
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &c in hex {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

#[inline]
fn trim(b: &[u8]) -> &[u8] {
    let mut s = 0;
    while s < b.len() && b[s] == b' ' {
        s += 1;
    }
    let mut e = b.len();
    while e > s && (b[e - 1] == b' ' || b[e - 1] == b'\r') {
        e -= 1;
    }
    &b[s..e]
}

#[inline]
fn two_digits(a: u8, b: u8) -> Option<i64> {
    let (h, l) = (a.wrapping_sub(b'0'), b.wrapping_sub(b'0'));
    (h < 10 && l < 10).then_some(i64::from(h) * 10 + i64::from(l))
}

const NS_PER_DAY: i64 = 86_400_000_000_000;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// nvidia-smi timestamps on the fast path, remembering the last date and
/// hour, which change rarely.
struct Clock {
    /// `YYYY/MM/DD HH` and its ns, when `valid`.
    hour: [u8; 13],
    valid: bool,
    hour_ns: i64,
}

impl Clock {
    fn new() -> Clock {
        Clock { hour: [0; 13], valid: false, hour_ns: 0 }
    }

    /// `YYYY/MM/DD HH:MM:SS[.f]` exactly as [`parse_timestamp`] reads it, or
    /// `None` for the slow path to read or reject.
    #[inline]
    fn read(&mut self, f: &[u8]) -> Option<i64> {
        if f.len() < 19 || f[10] != b' ' {
            return None;
        }
        let base = if self.valid && f[..13] == self.hour {
            self.hour_ns
        } else {
            self.valid = false;
            let day = std::str::from_utf8(&f[..10]).ok().and_then(crate::timefmt::parse_date)?;
            let h = two_digits(f[11], f[12]).filter(|h| *h <= 23)?;
            let ns = day.checked_mul(NS_PER_DAY)?.checked_add(h * NS_PER_HOUR)?;
            self.hour.copy_from_slice(&f[..13]);
            self.valid = true;
            self.hour_ns = ns;
            ns
        };
        // `:MM:SS`, then an optional fraction of 1 to 9 digits.
        let r = &f[13..];
        if r[0] != b':' || r[3] != b':' {
            return None;
        }
        let m = two_digits(r[1], r[2]).filter(|m| *m <= 59)?;
        let s = two_digits(r[4], r[5]).filter(|s| *s <= 60)?;
        let mut ns = (m * 60 + s) * 1_000_000_000;
        if r.len() > 6 {
            let frac = &r[7..];
            if (r[6] != b'.' && r[6] != b',') || frac.is_empty() || frac.len() > 9 {
                return None;
            }
            let mut v = 0i64;
            for &c in frac {
                let d = c.wrapping_sub(b'0');
                if d >= 10 {
                    return None;
                }
                v = v * 10 + i64::from(d);
            }
            ns += v * POW10_I64[9 - frac.len()];
        }
        base.checked_add(ns)
    }
}

const POW10_I64: [i64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// Byte-wise equality of short slices, without a call.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// What the fast path keeps between rows.
struct State {
    clock: Clock,
    /// Per GPU index, the [`State::name_read`] at which its name was last
    /// taken on the fast path (0 for none: a cache of
    /// `names`, cleared whenever the slow path reads a row).
    names: Vec<u64>,
    /// Counts the name column's fields read (rather than repeated): a
    /// name taken at the same count is the same name.
    name_read: u64,
    /// Per column, the last field the fast path read and what it gave.
    memo: Vec<Memo>,
    /// The column of GPU names, if any (the last one, as the slow path reads).
    name_column: Option<usize>,
    /// The row's readings by slot; [`EMPTY_SLOTS`]' values where there is
    /// none.
    slots: [u64; SLOTS],
    /// The last row's mask.
    has: u32,
    /// The length of the line before, when the fast path read it (and so
    /// the memos are its fields); `None` at first and after the slow path.
    prev_len: Option<usize>,
    /// The last line compared with the line before it.
    diff: LineDiff,
    /// Whether each slot has at most one column (then a row whose
    /// separators did not move is read a changed field at a time).
    distinct_slots: bool,
}

/// A column's last field on the fast path: where its bytes are in the
/// chunk, and what they read as (a value's or bitmask's bits, a time, a GPU,
/// the row slot they go to, and whether its unit differed from the
/// header's). Telemetry repeats itself: names, limits, clocks and a tick's
/// timestamp recur row after row, and a field whose bytes equal the last
/// one's reads the same, so the fast path compares bytes instead of reading
/// them again. A memo is kept only from rows the fast path took whole, so
/// its separator is the right one for its column.
#[derive(Clone, Copy)]
struct Memo {
    start: usize,
    /// `usize::MAX` before the column's first field.
    len: usize,
    bits: u64,
    /// The slot the reading goes to, or [`NOWHERE`] when there is none.
    slot: usize,
    /// `1 << slot` when there is a reading, else 0; and [`MISMATCH`]
    /// when the unit differed from the header's.
    bit: u32,
}

/// The flag in [`Memo::bit`] of a field whose unit differed from the
/// header's (rare: the row's count is then taken from its memos).
const MISMATCH: u32 = 1 << 31;

impl Memo {
    const EMPTY: Memo = Memo { start: 0, len: usize::MAX, bits: 0, slot: NOWHERE, bit: 0 };

    fn new(start: usize, end: usize, bits: u64, dest: Option<usize>, mismatch: bool) -> Memo {
        let (slot, bit) = dest.map_or((NOWHERE, 0), |d| (d, 1 << d));
        let bit = if mismatch { bit | MISMATCH } else { bit };
        Memo { start, len: end - start, bits, slot, bit }
    }
}

/// For a field of `len` < 16 bytes, the mask of its bytes and the
/// separator after it in a little-endian 16-byte word: a table, since a
/// 128-bit shift by a variable is several instructions and branches.
const FIELD_MASKS: [u128; 16] = {
    let mut m = [0u128; 16];
    let mut len = 0;
    while len < 16 {
        m[len] = u128::MAX >> (120 - 8 * len);
        len += 1;
    }
    m
};

/// Whether the field at `s` has exactly the `len` bytes at `prev` (an
/// earlier field), then a separator or the end: `Some(true)` when the
/// separator is the earlier field's too, `Some(false)` when it is another
/// (the caller checks it), `None` when the field differs.
#[inline]
fn repeats(b: &[u8], s: usize, prev: usize, len: usize) -> Option<bool> {
    // Most fields and their separator fit in 16 bytes, timestamps in 32:
    // one or two masked comparisons of both (the earlier field's separator
    // was `,` or `\n`, so an equal byte ends this one too).
    let word = |w: &[u8], at: usize| u128::from_le_bytes(w[at..at + 16].try_into().unwrap_or_default());
    if let (Some(&mask), Some(x), Some(y)) = (FIELD_MASKS.get(len), b.get(s..s + 16), b.get(prev..prev + 16)) {
        return ((word(x, 0) ^ word(y, 0)) & mask == 0).then_some(true);
    }
    if let (Some(&mask), Some(x), Some(y)) = (FIELD_MASKS.get(len.wrapping_sub(16)), b.get(s..s + 32), b.get(prev..prev + 32)) {
        return (word(x, 0) == word(y, 0) && (word(x, 16) ^ word(y, 16)) & mask == 0).then_some(true);
    }
    // The field, then its separator or the end; the earlier field ends
    // before it. (No earlier field: `len` is `usize::MAX`.)
    let (Some(x), Some(y)) = (b.get(s..s.checked_add(len)?), b.get(prev..prev + len)) else { return None };
    if !matches!(b.get(s + len), None | Some(b',' | b'\n')) {
        return None;
    }
    let (mut xs, mut ys) = (x.chunks_exact(8), y.chunks_exact(8));
    for (u, v) in xs.by_ref().zip(ys.by_ref()) {
        if u64::from_le_bytes(u.try_into().unwrap_or_default()) != u64::from_le_bytes(v.try_into().unwrap_or_default()) {
            return None;
        }
    }
    let tail = xs.remainder().len();
    if tail == 0 {
        return Some(false);
    }
    // The last few bytes: a whole word under a mask, where the chunk has one.
    let at = len - tail;
    let same = match (b.get(s + at..s + at + 8), b.get(prev + at..prev + at + 8)) {
        (Some(u), Some(v)) => {
            let (u, v) = (u64::from_le_bytes(u.try_into().unwrap_or_default()), u64::from_le_bytes(v.try_into().unwrap_or_default()));
            (u ^ v) & (u64::MAX >> (8 * (8 - tail))) == 0
        }
        _ => xs.remainder() == ys.remainder(),
    };
    same.then_some(false)
}

/// Where the field from `p` ends: the next `,` or `\n`, or the end. Eight
/// bytes at a time (a zero byte in `word ^ sep` marks a separator).
#[inline]
fn field_end(b: &[u8], mut p: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(p..p + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let (c, l) = (w ^ (LO * u64::from(b',')), w ^ (LO * u64::from(b'\n')));
        let m = ((c.wrapping_sub(LO) & !c) | (l.wrapping_sub(LO) & !l)) & HI;
        if m != 0 {
            // The lowest flagged byte is always a true separator.
            return p + (m.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    while p < b.len() && b[p] != b',' && b[p] != b'\n' {
        p += 1;
    }
    p
}

/// The common value on the fast path, read in one pass: a decimal without
/// exponent, then nothing or the header's unit, up to the field's end.
/// Gives the value in the header's unit and where the field ends; `None`
/// for anything else (nulls, other units), which [`fast_row`] reads the
/// general way.
#[inline]
fn plain_value(b: &[u8], mut p: usize, unit: Option<&[u8]>) -> Option<(f64, usize)> {
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    let (v, p) = decimal(b, p)?;
    match b.get(p) {
        None | Some(b',' | b'\n') => Some((v, p)),
        // The usual case: one space and the header's unit, then the field's end.
        Some(b' ')
            if unit.is_some_and(|h| {
                b.get(p + 1..p + 1 + h.len()).is_some_and(|u| same(h, u)) && matches!(b.get(p + 1 + h.len()), None | Some(b',' | b'\n'))
            }) =>
        {
            Some((v, p + 1 + unit.map_or(0, <[u8]>::len)))
        }
        Some(b' ') => {
            let end = field_end(b, p);
            let u = trim(&b[p..end]);
            (u.is_empty() || unit.is_some_and(|h| same(h, u))).then_some((v, end))
        }
        Some(_) => None,
    }
}

/// Any field of `plan`'s column on the fast path, trimmed: its reading's
/// bits, whether there is one, and whether its unit differed from the
/// header's; `None` sends the line to the slow path.
fn any_field(plan: &Plan, f: &[u8], clock: &mut Clock) -> Option<(u64, bool, bool)> {
    Some(match plan.target {
        Target::Ignored | Target::Name => (0, false, false),
        Target::Slow => return None,
        Target::Time => (clock.read(f)? as u64, true, false),
        Target::Gpu => (u64::from(index_in(f)?), true, false),
        Target::Throttle => match f.first() {
            Some(&c) if c != b'[' => (fast_hex(f)?, true, false),
            _ => (0, false, false),
        },
        Target::Value(_) if f.is_empty() || f[0] == b'[' || f == b"N/A" => (0, false, false),
        Target::Value(field) => {
            let (num, unit) = match f.iter().position(|c| *c == b' ') {
                Some(i) => (&f[..i], trim(&f[i + 1..])),
                None => (f, &b""[..]),
            };
            let x = decimal(num, 0).filter(|(_, end)| *end == num.len())?.0;
            let (factor, mismatch) = match &plan.unit {
                _ if unit.is_empty() => (plan.header_factor, false),
                Some(h) if same(h, unit) => (plan.header_factor, false),
                h => (std::str::from_utf8(unit).ok().and_then(|u| scale(field, u))?, h.is_some()),
            };
            ((x * factor).to_bits(), true, mismatch)
        }
    })
}

/// Reads the field of `plan`'s column that starts at `s` into its memo `m`
/// (relative to the row that starts at `row`), and gives where it ends;
/// `None` sends the line to the slow path.
#[inline]
fn read_field(b: &[u8], s: usize, row: usize, plan: &Plan, clock: &mut Clock, m: &mut Memo) -> Option<usize> {
    // The usual fields first: a plain number in the header's unit, a GPU index.
    let plain = match plan.target {
        Target::Value(_) => plain_value(b, s, plan.unit.as_deref()).map(|(x, end)| (end, (x * plan.header_factor).to_bits())),
        Target::Gpu => plain_index(b, s).map(|(g, end)| (end, u64::from(g))),
        _ => None,
    };
    let (end, bits, dest, mismatch) = match plain {
        Some((end, bits)) => (end, bits, Some(plan.dest), false),
        None => {
            let end = field_end(b, s);
            let (bits, some, mismatch) = any_field(plan, trim(&b[s..end]), clock)?;
            (end, bits, some.then_some(plan.dest), mismatch)
        }
    };
    *m = Memo::new(s - row, end - row, bits, dest, mismatch);
    Some(end)
}

/// A decimal without exponent and nothing or the header's unit after it,
/// filling the field `f` (spaces and a `\r` allowed around them), as
/// [`plain_value`] reads it; `None` for anything else.
#[inline]
fn number_in(f: &[u8], unit: Option<&[u8]>) -> Option<f64> {
    let mut i = 0;
    while f.get(i) == Some(&b' ') {
        i += 1;
    }
    let (v, i) = decimal(f, i)?;
    // Nothing after the number, or a space and the header's unit (at once,
    // or with more spaces or a `\r` about them).
    let rest = f.get(i..)?;
    let spaced = |u: &[u8]| rest.first() == Some(&b' ') && unit.is_some_and(|h| same(h, u));
    let ends = rest.is_empty() || spaced(&rest[1..]) || {
        let t = trim(rest);
        t.is_empty() || spaced(t)
    };
    ends.then_some(v)
}

/// A field of a known place, `f`, on the same-layout path: its reading's
/// bits, whether there is one, and whether its unit differed from the
/// header's; `None` when it does not read, or holds a separator (the line's
/// fields moved).
#[inline]
fn reread(f: &[u8], plan: &Plan, clock: &mut Clock) -> Option<(u64, bool, bool)> {
    // The usual fields, whose every byte is checked: a plain number in the
    // header's unit, a GPU index.
    match plan.target {
        Target::Value(_) => {
            if let Some(x) = number_in(f, plan.unit.as_deref()) {
                return Some(((x * plan.header_factor).to_bits(), true, false));
            }
        }
        Target::Gpu => {
            if let Some(g) = index_in(f) {
                return Some((u64::from(g), true, false));
            }
        }
        _ => {}
    }
    if memchr::memchr2(b',', b'\n', f).is_some() {
        return None;
    }
    any_field(plan, trim(f), clock)
}

/// A line as long as the line before: only the fields with a changed
/// byte (see [`LineDiff`]) are read, the others keep their memos and slots.
/// Gives the row's mask and where the line ends, or `None` when the line is
/// not as long, or its fields moved (a changed byte between fields, a
/// changed field that ends elsewhere) or one does not read: the memos are
/// then cleared, and [`fields_row`] reads the line afresh.
#[inline]
fn same_layout_row(b: &[u8], start: usize, plans: &[Plan], st: &mut State) -> Option<(u32, usize)> {
    let len = st.prev_len.filter(|_| st.distinct_slots)?;
    let State { clock, memo, slots, has, prev_len, name_column, name_read, diff, .. } = st;
    if !diff.compare(b, start, len) {
        return None;
    }
    let mut row = *has;
    let mut recount = false;
    // The changed bytes in order, and the column whose field holds each; a
    // field is read once.
    let mut c = 0;
    let mut from = 0;
    while let Some(at) = diff.next_change(from).filter(|at| *at < len) {
        while memo.get(c).is_some_and(|m| m.start + m.len <= at) {
            c += 1;
        }
        let read = match (plans.get(c), memo.get_mut(c)) {
            (Some(plan), Some(m)) if m.start <= at => {
                let (old, old_slot) = (m.bit, m.slot);
                let read = reread(&b[start + m.start..start + m.start + m.len], plan, clock);
                *name_read += u64::from(*name_column == Some(c));
                if let Some((bits, some, mismatch)) = read {
                    *m = Memo::new(m.start, m.start + m.len, bits, some.then_some(plan.dest), mismatch);
                }
                // Each slot has one column, so the old reading's slot and bit
                // are this column's alone.
                row = (row & !(old & !MISMATCH)) | (m.bit & !MISMATCH);
                recount |= (old | m.bit) & MISMATCH != 0;
                slots[old_slot] = EMPTY_SLOTS[old_slot];
                slots[m.slot] = m.bits;
                from = m.start + m.len;
                read
            }
            _ => None,
        };
        if read.is_none() {
            memo.fill(Memo::EMPTY);
            *prev_len = None;
            return None;
        }
        c += 1;
    }
    if recount {
        row = memo.iter().fold(row & !MISMATCH, |h, m| h | (m.bit & MISMATCH));
    }
    *has = row;
    Some((row, start + len))
}

/// The fast path for one well-formed line starting at `start` in `b`:
/// pushes the row and returns where the line ends (its `\n`, or the end),
/// or returns `None` (pushing nothing) for the slow path to read or reject;
/// the memos are then no longer to be trusted (see [`parse_chunk`]).
fn fast_row(b: &[u8], start: usize, plans: &[Plan], rows: &mut Rows<'_>, out: &mut ChunkOut, st: &mut State) -> Option<usize> {
    let (has, p) = match same_layout_row(b, start, plans, st) {
        Some(done) => done,
        None => fields_row(b, start, plans, st)?,
    };
    st.has = has;
    st.prev_len = Some(p - start);
    let State { memo, names: name_cache, name_column, slots, name_read, .. } = st;
    if has & (1 << TIME) == 0 {
        return None;
    }
    let gpu = slots[GPU] as u32;
    if has & MISMATCH != 0 {
        out.unit_mismatches += memo.iter().filter(|m| m.bit & MISMATCH != 0).count();
    }
    // The name, unless this GPU took it at the same read of its column.
    if let Some(c) = *name_column
        && name_cache.get(gpu as usize) != Some(name_read)
    {
        let m = &memo[c];
        let name = trim(&b[start + m.start..start + m.start + m.len]);
        if !name.is_empty() && rows.names.get(&gpu).map(String::as_bytes) != Some(name) {
            rows.names.insert(gpu, String::from_utf8_lossy(name).into_owned());
        }
        let g = gpu as usize;
        if g < 1024 {
            if name_cache.len() <= g {
                name_cache.resize(g + 1, 0);
            }
            name_cache[g] = *name_read;
        }
    }
    rows.push(slots, has);
    Some(p)
}

/// Any line on the fast path, field by field: each field is compared with
/// its column's memo (the row before's) and read only when it differs.
/// Gives the row's mask and where the line ends.
#[inline]
fn fields_row(b: &[u8], start: usize, plans: &[Plan], st: &mut State) -> Option<(u32, usize)> {
    // Each column's reading lands in its slot; `has` marks the slots read
    // (the others hold an earlier row's). A column without a reading leaves
    // its slot as another column of the same field left it.
    let mut has = 0u32;
    let n = b.len();
    let mut p = start;
    let last = plans.len() - 1;
    // Where the row before started: memos are relative to their row.
    let before = st.prev_len.map_or(0, |len| start - len - 1);
    let State { clock, memo, slots, name_column, name_read, .. } = st;
    *slots = EMPTY_SLOTS;
    for (ci, (plan, m)) in plans.iter().zip(memo.iter_mut()).enumerate() {
        let s = p;
        let checked = match repeats(b, s, before + m.start, m.len) {
            Some(same_separator) => {
                p = s + m.len;
                m.start = s - start;
                same_separator
            }
            None => {
                p = read_field(b, s, start, plan, clock, m)?;
                *name_read += u64::from(*name_column == Some(ci));
                false
            }
        };
        slots[m.slot] = m.bits;
        has |= m.bit;
        // A repeat with the earlier field's separator needs no check: that
        // field's row passed it.
        let more = ci < last;
        if !checked && (p < n && b[p] == b',') != more {
            return None;
        }
        p += usize::from(more);
    }
    Some((has, p))
}

/// Reads the lines of one chunk into its share of the columns.
fn parse_chunk(chunk: &str, cols: &[Column], plans: &[Plan], rows: &mut Rows<'_>, last_chunk_cut: bool) -> ChunkOut {
    let bytes = chunk.as_bytes();
    let mut out =
        ChunkOut { rows: 0, names: Default::default(), problems: Vec::new(), lines: 0, newlines: 0, truncated: false, unit_mismatches: 0 };
    let name_column = plans.iter().rposition(|p| p.target == Target::Name);
    let dests: Vec<usize> = plans.iter().map(|p| p.dest).filter(|d| *d != NOWHERE).collect();
    let distinct_slots = dests.iter().enumerate().all(|(i, d)| !dests[..i].contains(d));
    let mut st = State {
        clock: Clock::new(),
        names: Vec::new(),
        name_read: 1,
        diff: LineDiff::new(),
        memo: vec![Memo::EMPTY; plans.len()],
        name_column,
        slots: EMPTY_SLOTS,
        has: 0,
        prev_len: None,
        distinct_slots,
    };
    let mut report = ReadReport::default();
    let mut start = 0;
    let mut k = 0;
    loop {
        let n = k;
        k += 1;
        let fast = bytes.get(start).is_some_and(u8::is_ascii_alphanumeric);
        if fast && let Some(end) = fast_row(bytes, start, plans, rows, &mut out, &mut st) {
            out.lines += 1;
            if end >= bytes.len() {
                break;
            }
            start = end + 1;
            continue;
        }
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |e| start + e);
        let line = &chunk[start..end];
        let is_last = end == bytes.len();
        start = end + 1;
        if fast || !line.trim().is_empty() {
            out.lines += 1;
            // The slow path: the reference reading, and the error if there is one.
            st.names.clear();
            // The fast path may have kept a memo from this line's fields before it gave up.
            st.memo.fill(Memo::EMPTY);
            st.prev_len = None;
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != cols.len() {
                if is_last && last_chunk_cut && fields.len() < cols.len() {
                    out.truncated = true;
                } else {
                    out.problems.push((n, None, format!("{} fields where the header has {}", fields.len(), cols.len())));
                }
            } else {
                match parse_row(&fields, cols, &mut report, &mut rows.names) {
                    Ok(s) => rows.push_sample(s),
                    Err((field, message)) => out.problems.push((n, field, message)),
                }
            }
        }
        if is_last {
            break;
        }
    }
    out.newlines = k - 1;
    out.unit_mismatches += report.unit_mismatches;
    out.rows = rows.len;
    out.names = std::mem::take(&mut rows.names);
    out
}

/// Lines in a chunk (newlines and one): no chunk has more rows.
fn lines_in(chunk: &str) -> usize {
    memchr::memchr_iter(b'\n', chunk.as_bytes()).count() + 1
}

/// Runs `f` on each item on all cores, results in the items' order.
fn on_threads<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    crate::cores::on_cores(items, crate::cores::cores(), f)
}

/// Reads the chunks in parallel straight into the telemetry's columns: each
/// chunk gets a share as long as its lines, written from the front, and the
/// shares are closed up afterwards (only bad or blank lines leave gaps).
fn read_chunks(chunks: &[&str], cols: &[Column], plans: &[Plan], layout: &Layout, last_cut: bool) -> (Telemetry, Vec<ChunkOut>) {
    let bounds = on_threads(chunks.to_vec(), lines_in);
    let total: usize = bounds.iter().sum();
    // Columns with room for every line, not yet written: each chunk writes
    // its rows at the front of its share (see `Rows::push`). Columns the
    // file lacks are all null, made once the rows are counted.
    let mut t = Telemetry { time_ns: Vec::with_capacity(total), gpu: Vec::with_capacity(total), ..Telemetry::default() };
    t.throttle_reasons = Vec::with_capacity(if layout.throttle { total } else { 0 });
    for f in &layout.fields {
        t.values[*f as usize] = Vec::with_capacity(total);
    }
    let mut time = split_into(t.time_ns.spare_capacity_mut(), &bounds).into_iter();
    let mut gpu = split_into(t.gpu.spare_capacity_mut(), &bounds).into_iter();
    let mut throttle = split_into(t.throttle_reasons.spare_capacity_mut(), if layout.throttle { &bounds } else { &[] }).into_iter();
    let mut values: Vec<(Field, std::vec::IntoIter<&mut [MaybeUninit<f64>]>)> = t
        .values
        .iter_mut()
        .zip(Field::ALL)
        .filter(|(_, f)| layout.fields.contains(f))
        .map(|(col, f)| (f, split_into(col.spare_capacity_mut(), &bounds).into_iter()))
        .collect();
    let count = chunks.len();
    let jobs: Vec<(usize, &str, Rows<'_>)> = chunks
        .iter()
        .enumerate()
        .map(|(i, &chunk)| {
            let rows = Rows {
                time_ns: time.next().unwrap_or_default(),
                gpu: gpu.next().unwrap_or_default(),
                values: values.iter_mut().map(|(f, shares)| (*f, shares.next().unwrap_or_default())).collect(),
                throttle: throttle.next().unwrap_or_default(),
                len: 0,
                names: Default::default(),
            };
            (i, chunk, rows)
        })
        .collect();
    let outs = on_threads(jobs, |(i, chunk, mut rows)| parse_chunk(chunk, cols, plans, &mut rows, i + 1 == count && last_cut));
    // Close up the shares: each chunk's rows follow the chunk before's.
    let mut at = 0;
    let mut from = 0;
    for (out, bound) in outs.iter().zip(&bounds) {
        if from != at && out.rows > 0 {
            let range = from..from + out.rows;
            t.time_ns.spare_capacity_mut().copy_within(range.clone(), at);
            t.gpu.spare_capacity_mut().copy_within(range.clone(), at);
            if layout.throttle {
                t.throttle_reasons.spare_capacity_mut().copy_within(range.clone(), at);
            }
            for f in &layout.fields {
                t.values[*f as usize].spare_capacity_mut().copy_within(range.clone(), at);
            }
        }
        at += out.rows;
        from += bound;
    }
    // SAFETY: the first `at` values of each of these columns are written.
    // Each chunk wrote the first `out.rows` of its share of every column
    // (`Rows::push`, the one writer, writes a row to every share before it
    // counts it), and the loop above moved each chunk's rows to follow the
    // chunk before's, from 0 to `at`. The values are `Copy`: nothing is
    // dropped twice or leaked.
    unsafe {
        t.time_ns.set_len(at);
        t.gpu.set_len(at);
        if layout.throttle {
            t.throttle_reasons.set_len(at);
        }
        for f in &layout.fields {
            t.values[*f as usize].set_len(at);
        }
    }
    // The columns the file lacks, filled with nulls a share on each thread.
    let mut absent: Vec<&mut Vec<f64>> = Vec::new();
    for (f, col) in Field::ALL.iter().zip(&mut t.values) {
        if !layout.fields.contains(f) {
            absent.push(col);
        }
    }
    let per = absent.len().div_ceil(chunks.len().max(1)).max(1);
    on_threads(absent.chunks_mut(per).collect(), |group: &mut [&mut Vec<f64>]| {
        for col in group {
            **col = vec![f64::NAN; at];
        }
    });
    if !layout.throttle {
        t.throttle_reasons = vec![None; at];
    }
    (t, outs)
}

/// Reads nvidia-smi CSV text. The first line must be the header (as
/// `--format=csv` writes it); a file written with `noheader` cannot say
/// which column is which and is refused with a hint. Large inputs are read
/// in chunks on all cores; the result does not depend on how many.
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    // A few chunks per core, so that the cores stay busy to the end.
    let threads = crate::cores::cores().min(16);
    read_in(text, origin, opts, if text.len() < (1 << 20) { 1 } else { (4 * threads).min(text.len() >> 18) })
}

/// [`read`] in `parts` chunks.
fn read_in(text: &str, origin: &str, opts: &ReadOptions, parts: usize) -> Result<(Telemetry, ReadReport), ReplayError> {
    let parts = parts.max(1);
    let mut report = ReadReport { format: "nvidia-smi".into(), ..ReadReport::default() };
    // The header: the first non-blank line.
    let mut offset = 0;
    let mut hline = 0;
    let header = loop {
        let Some(rest) = text.get(offset..) else { return Ok((Telemetry::default(), report)) };
        if rest.is_empty() {
            return Ok((Telemetry::default(), report));
        }
        let end = rest.find('\n').map_or(rest.len(), |e| e + 1);
        let line = &rest[..end];
        offset += end;
        hline += 1;
        if !line.trim().is_empty() {
            break line.trim_end_matches(['\n', '\r']);
        }
    };
    let cols = parse_header(header.trim_start_matches('\u{feff}'));
    if !cols.iter().any(|c| c.target == Target::Time) {
        return Err(ReplayError::Format {
            origin: origin.to_string(),
            line: hline,
            field: None,
            message: format!("the header has no `timestamp` column (it reads `{}`)", abbreviate(header)),
            hint: Some("record with `nvidia-smi --query-gpu=timestamp,index,... --format=csv` (with the header, and `timestamp` among the columns)".into()),
        });
    }
    report.ignored_columns = cols.iter().filter(|c| c.target == Target::Ignored).map(|c| c.name.clone()).collect();
    let plans: Vec<Plan> = cols
        .iter()
        .map(|c| {
            let field = match c.target {
                Target::Value(f) => Some(f),
                _ => None,
            };
            let header_factor = match (field, c.unit.as_deref()) {
                (Some(f), Some(u)) => scale(f, u).unwrap_or(f64::NAN),
                _ => 1.0,
            };
            // A header unit Twin does not know: the slow path names it for each value.
            let target = if header_factor.is_nan() { Target::Slow } else { c.target };
            let dest = match target {
                Target::Value(f) => f as usize,
                Target::Time => TIME,
                Target::Gpu => GPU,
                Target::Throttle => THROTTLE,
                _ => NOWHERE,
            };
            Plan { target, header_factor, unit: c.unit.as_ref().map(|u| u.as_bytes().into()), dest }
        })
        .collect();
    let layout = Layout {
        fields: Field::ALL.into_iter().filter(|f| cols.iter().any(|c| c.target == Target::Value(*f))).collect(),
        throttle: cols.iter().any(|c| c.target == Target::Throttle),
    };
    let body = &text[offset..];
    let ends_cleanly = text.ends_with('\n');
    // Chunks of whole lines.
    let mut chunks: Vec<&str> = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 1..=parts {
        let mut end = if p == parts { body.len() } else { (body.len() * p / parts).max(start) };
        while end < body.len() && !body.is_char_boundary(end) {
            end += 1;
        }
        if p < parts {
            end = memchr::memchr(b'\n', &body.as_bytes()[end..]).map_or(body.len(), |i| end + i + 1);
        }
        let chunk = &body[start..end];
        chunks.push(chunk.strip_suffix('\n').unwrap_or(chunk));
        start = end;
        if start >= body.len() {
            break;
        }
    }
    let (mut t, mut outs) = read_chunks(&chunks, &cols, &plans, &layout, !ends_cleanly);
    let mut line_no = hline + 1;
    for out in &mut outs {
        report.lines += out.lines;
        report.unit_mismatches += out.unit_mismatches;
        if out.truncated {
            report.truncated_last_line = true;
            report.skipped += 1;
        }
        for (line, field, message) in std::mem::take(&mut out.problems) {
            let line = line_no + line;
            if opts.strict {
                return Err(ReplayError::Format {
                    origin: origin.to_string(),
                    line,
                    field,
                    message,
                    hint: Some("without --strict, bad rows are skipped and counted".into()),
                });
            }
            report.skip(line, field.as_deref(), message);
        }
        // A chunk ends at a newline (stripped) unless it is the last.
        line_no += out.newlines + 1;
        t.names.append(&mut out.names);
    }
    Ok((t, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "timestamp, index, name, pstate, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], temperature.gpu, temperature.memory, clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active";

    fn read_all(text: &str) -> (Telemetry, ReadReport) {
        crate::read(text, "t.csv", crate::Format::Auto, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn reads_every_column_with_units_and_no_values() {
        let text = format!(
            "{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x0000000000000001\n\
             2026/11/27 01:59:00.067, 1, NVIDIA H200, P0, 97 %, [N/A], 1024 MiB, 143771 MiB, [Not Supported], 700.00 W, 61, 70, 1980 MHz, 3201 MHz, 0x0000000000000004\n"
        );
        let (t, r) = read_all(&text);
        assert_eq!((r.rows, r.skipped, r.format.as_str()), (2, 0, "nvidia-smi"));
        assert_eq!(r.ignored_columns, ["pstate"]);
        assert_eq!(t.gpu, [0, 1]);
        assert_eq!(t.names[&1], "NVIDIA H200");
        assert_eq!(t.values_of(Field::Power), [Some(77.25), None]);
        assert_eq!(t.values_of(Field::UtilMem), [Some(0.0), None]);
        assert_eq!(t.values_of(Field::SmClock), [Some(345.0), Some(1980.0)]);
        assert_eq!(t.values_of(Field::MemTemp), [Some(40.0), Some(70.0)]);
        assert_eq!(t.throttle_reasons, [Some(1), Some(4)]);
        assert_eq!(t.time_ns[1] - t.time_ns[0], 107_000_000);
    }

    #[test]
    fn nounits_any_order_and_other_units_convert() {
        let text = "power.draw [W], timestamp, memory.used [GiB], clocks.sm [MHz]\n1.5 W, 2026/11/27 00:00:00.000, 2, 1.2 GHz\n80, 2026/11/27 00:00:01.000, 3 GiB, 900\n";
        let (t, r) = read_all(text);
        assert_eq!(r.rows, 2);
        assert_eq!(t.values_of(Field::Power), [Some(1.5), Some(80.0)]);
        assert_eq!(t.values_of(Field::MemUsed), [Some(2048.0), Some(3072.0)]);
        assert_eq!(t.values_of(Field::SmClock), [Some(1200.0), Some(900.0)]);
        assert_eq!(r.unit_mismatches, 1, "GHz where the header says MHz");
    }

    #[test]
    fn bad_rows_are_skipped_with_their_line_or_stop_a_strict_read() {
        let text = "timestamp, index, power.draw [W]\n2026/11/27 00:00:00.000, 0, 70 W\nyesterday, 0, 70 W\n2026/11/27 00:00:01.000, 0, seventy W\n2026/11/27 00:00:02.000, 0\n2026/11/27 00:00:03.000, 0, 75 W\n2026/11/27 00:00:04.0";
        let (t, r) = read_all(text);
        assert_eq!(t.len(), 2);
        assert_eq!(r.skipped, 4);
        assert!(r.truncated_last_line);
        let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert_eq!(r.problems[0].field.as_deref(), Some("timestamp"));
        let strict = ReadOptions { strict: true, ..ReadOptions::default() };
        let err = crate::read(text, "t.csv", crate::Format::NvidiaSmi, &strict).unwrap_err().to_string();
        assert!(err.starts_with("t.csv:3: `timestamp`: `yesterday` is not a time"), "{err}");
    }

    #[test]
    fn out_of_order_samples_and_gaps_are_counted_and_sorted() {
        let text = "timestamp, index, power.draw [W]\n\
            2026/11/27 00:00:00.000, 0, 1 W\n2026/11/27 00:00:00.100, 0, 2 W\n2026/11/27 00:00:00.050, 0, 3 W\n\
            2026/11/27 00:00:00.200, 0, 4 W\n2026/11/27 00:00:05.000, 0, 5 W\n";
        let (t, r) = read_all(text);
        assert_eq!(r.non_monotonic, 1);
        assert_eq!(r.gaps, 1);
        assert!(t.time_ns.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(t.value(Field::Power, 1), Some(3.0));
    }

    #[test]
    fn a_headerless_file_is_refused_with_a_hint() {
        let err = read("2026/11/27 00:00:00.000, 0, 70 W\n", "x.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("x.csv:1:") && err.contains("no `timestamp` column") && err.contains("hint:"), "{err}");
    }

    #[test]
    fn chunks_on_many_cores_read_exactly_as_one() {
        let mut text = String::from("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n");
        for i in 0..5_000u32 {
            let ms = i * 100;
            let row = match i % 997 {
                13 => "garbage line\n".to_string(),
                14 => "\n".to_string(),
                15 => format!(
                    "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, 1e2 %, 7.5e2 W, 0x1\n",
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    ms % 1000,
                    i % 4
                ),
                _ => format!(
                    "2026/11/27 00:{:02}:{:02}.{:03}, {}, NVIDIA H100, {} %, {}.{:02} W, 0x{:x}\n",
                    ms / 60_000 % 60,
                    ms / 1000 % 60,
                    ms % 1000,
                    i % 4,
                    i % 101,
                    70 + i % 600,
                    i % 100,
                    i % 8
                ),
            };
            text.push_str(&row);
        }
        text.push_str("2026/11/27 01:00:00.000, 0, NVIDIA");
        let opts = ReadOptions::default();
        let one = read_in(&text, "c.csv", &opts, 1).unwrap();
        for parts in [2, 3, 7] {
            assert_eq!(read_in(&text, "c.csv", &opts, parts).unwrap(), one, "{parts} parts");
        }
        let (t, r) = one;
        assert_eq!(r.skipped, 7, "6 garbage lines and the cut last one: {r}");
        assert!(r.truncated_last_line);
        assert_eq!(r.problems[0].line, 15);
        assert_eq!(t.value(Field::Power, 15 - 2), Some(750.0), "exponents take the slow path and still read");
        // The fast path gives what the slow path gives.
        let line = "2026/11/27 00:00:01.300, 2, NVIDIA H100, 57 %, 123.45 W, 0x4";
        let cols = parse_header("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active");
        let slow = parse_row(&line.split(',').collect::<Vec<_>>(), &cols, &mut ReadReport::default(), &mut Default::default()).unwrap();
        let (fast, _) = read_in(
            &format!("timestamp, index, name, utilization.gpu [%], power.draw [W], clocks_event_reasons.active\n{line}\n"),
            "f.csv",
            &opts,
            1,
        )
        .unwrap();
        assert_eq!(fast, Telemetry::from_samples(vec![slow]));
    }

    /// The reference reading of a whole text: every line through the slow path.
    fn reference(text: &str) -> (Telemetry, usize, usize) {
        let mut lines = text.split('\n');
        let cols = parse_header(lines.next().unwrap());
        let (mut t, mut report, mut names, mut bad) = (Telemetry::default(), ReadReport::default(), Default::default(), 0);
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            match (fields.len() == cols.len()).then(|| parse_row(&fields, &cols, &mut report, &mut names)) {
                Some(Ok(s)) => t.push(s),
                _ => bad += 1,
            }
        }
        t.names = names;
        (t, bad, report.unit_mismatches)
    }

    /// A xorshift stream: `rnd(n)` draws below `n`.
    fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

    /// Reads `text` on 1, 2 and 3 threads and checks every column against
    /// the reference (the slow path alone); gives its rows and bad lines.
    fn reads_as_the_reference(text: &str) -> (Telemetry, usize) {
        let (want, bad, mismatches) = reference(text);
        for parts in [1, 2, 3] {
            let (got, report) = read_in(text, "r.csv", &ReadOptions::default(), parts).unwrap();
            assert_eq!((got.len(), report.skipped, report.unit_mismatches), (want.len(), bad, mismatches), "{parts} parts");
            for f in Field::ALL {
                let (a, b) = (got.column(f), want.column(f));
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    // Bit for bit (so -0 differs from 0; both read NaN for a null).
                    assert_eq!(x.to_bits(), y.to_bits(), "{f:?} row {i}");
                }
            }
            let first = |a: &[i64], b: &[i64]| a.iter().zip(b).position(|(x, y)| x != y);
            assert_eq!(first(&got.time_ns, &want.time_ns), None, "time_ns, {parts} parts");
            assert_eq!(got.gpu, want.gpu, "{parts} parts");
            assert_eq!(got.throttle_reasons, want.throttle_reasons, "{parts} parts");
            assert_eq!(got.names, want.names, "{parts} parts");
        }
        (want, bad)
    }

    #[test]
    fn repeated_fields_read_as_the_slow_path_does() {
        // Fields from small pools, so that most repeat the row before: the
        // fast path then reuses what it read. Two columns fill power and two
        // the bitmask, so a null in one must not bring back the other's
        // value; units that differ from the header's count on every row.
        let head = "timestamp, index, name, power.draw [W], power.draw.instant [W], memory.used [MiB], clocks_throttle_reasons.active, clocks_event_reasons.active, pstate";
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1du64);
        let mut text = format!("{head}\n");
        for k in 0..20_000u64 {
            // Mostly the first of the pool; bad ones come last, and rarely.
            let pick = |rnd: &mut dyn FnMut(u64) -> u64, pool: &[&str]| {
                let i = rnd(pool.len() as u64 * 4) as usize;
                pool[if i < pool.len() { i } else { 0 }].to_string()
            };
            let line = [
                format!("2026/11/27 10:{:02}:{:02}.{:03}", k / 6000 % 60, k / 100 % 60, [0, 100, 100][rnd(3) as usize]),
                pick(&mut rnd, &["0", "1", "7"]),
                pick(&mut rnd, &["NVIDIA H200", "NVIDIA A100", ""]),
                pick(&mut rnd, &["77.25 W", "[N/A]", "700.00 W", "77250 mW", "77.25"]),
                pick(&mut rnd, &["[N/A]", "81.5 W", "81500 mW"]),
                pick(&mut rnd, &["1024 MiB", "1 GiB", "[Not Supported]", "-0 MiB", "x MiB"]),
                pick(&mut rnd, &["0x0000000000000001", "[N/A]", "0x4"]),
                pick(&mut rnd, &["[N/A]", "0x0000000000000004", "0x"]),
                pick(&mut rnd, &["P0", "P8"]),
            ];
            // Now and then a field fewer or one more: the repeated fields
            // before them must not let the line through.
            let fields = match rnd(40) {
                0 => &line[..8],
                1 => &line[..7],
                _ => &line[..],
            };
            text.push_str(&fields.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",")[1..]);
            if rnd(40) == 0 {
                text.push_str(", P0");
            }
            text.push('\n');
        }
        let (want, bad) = reads_as_the_reference(&text);
        assert!(want.len() > 5_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
    }

    #[test]
    fn the_fast_path_reads_random_lines_as_the_slow_path_does() {
        let head = "timestamp, index, name, pstate, utilization.gpu [%], memory.used [MiB], power.draw [W], temperature.gpu, clocks.current.sm [MHz], clocks_event_reasons.active";
        let mut rnd = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let mut text = format!("{head}\n");
        for _ in 0..20_000 {
            let number = |rnd: &mut dyn FnMut(u64) -> u64| {
                let digits = 1 + if rnd(8) == 0 { rnd(18) } else { rnd(7) } as usize;
                let mut d: String = (0..digits).map(|_| char::from(b'0' + rnd(10) as u8)).collect();
                match rnd(6) {
                    0 => d.insert(rnd(digits as u64 + 1) as usize, '.'),
                    1 => d = format!("-{d}"),
                    2 => d.truncate(1 + rnd(3) as usize),
                    _ => {}
                }
                d
            };
            let time = format!(
                "{} {:02}:{:02}:{:02}{}",
                ["2026/11/27", "2026/11/28", "1969/12/31", "2026-11-27", "9999/12/31", "2026/13/01"][rnd(24).saturating_sub(18) as usize],
                rnd(25),
                rnd(62),
                rnd(62),
                [String::new(), format!(".{}", rnd(1000)), format!(".{:03}", rnd(1000)), ",5".into(), ".1234567891".into(), ".".into()]
                    [rnd(18).saturating_sub(12) as usize]
            );
            let mut line = vec![
                time,
                [rnd(8).to_string(), "x".into(), "12345678901".into()][rnd(60).saturating_sub(57) as usize].clone(),
                ["NVIDIA H200", "NVIDIA H100 80GB HBM3", "NVIDIA A100"][rnd(3) as usize].into(),
                "P0".into(),
            ];
            for unit in ["%", "MiB", "W", "", "MHz"] {
                let n = number(&mut rnd);
                line.push(match rnd(40) {
                    0 => "[N/A]".into(),
                    1 => "N/A".into(),
                    2 => "[Not Supported]".into(),
                    3 => n,
                    4 => format!("{n} GiB"),
                    5 => format!("{n}e2 {unit}"),
                    6 => format!("  {n}  {unit}  "),
                    7 => format!("{n} mW"),
                    _ => format!("{n} {unit}"),
                });
            }
            line.push(
                [
                    "0x0000000000000001".into(),
                    format!("0x{:x}", rnd(u64::MAX)),
                    "[N/A]".into(),
                    "0x0x1".into(),
                    "ff".into(),
                    "0x".into(),
                    "0x11111111111111111".into(),
                ][rnd(36).saturating_sub(30) as usize]
                    .clone(),
            );
            let mut line = line.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",");
            match rnd(20) {
                0 => line.push('\r'),
                1 => line.push_str(", extra"),
                _ => {}
            }
            text.push_str(line.trim_start());
            text.push('\n');
        }
        let (want, bad) = reads_as_the_reference(&text);
        assert!(want.len() > 1_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
    }

    #[test]
    fn lines_as_long_as_the_last_read_as_the_slow_path_does() {
        // Each column fills its own slot, so a line as long as the one
        // before is read a changed field at a time. The fields change in
        // place, mostly keeping their length: digits, a unit, a null for a
        // number, a name; now and then, for one line, separators move
        // ("12, 3" and "1, 23"), a field takes a comma or a bad value.
        let head = "timestamp, index, name, utilization.gpu [%], power.draw [W], temperature.gpu, clocks_event_reasons.active, pstate";
        let mut rnd = xorshift(0x51_7cc1_b727_220au64);
        let mut text = format!("{head}\n");
        let mut line: Vec<String> = ["2026/11/27 10:00:00.000", "0", "NVIDIA H200", "97 %", "650.25 W", "59", "0x0000000000000001", "P0"]
            .map(String::from)
            .to_vec();
        // Per column: values that read (kept for the lines after), then
        // values for one line only (bad, or moving a separator).
        let pools: [(&[&str], &[&str]); 8] = [
            (
                &["2026/11/27 10:00:00.000", "2026/11/27 10:00:00.9", "2026/11/27 11:59:59.999"],
                &["2026/11/3x 10:00:00.000", "2026/11/27 10:00:00,500", "2026/11/27 10:00:00.1,0", "2026/11/27 10:00:0"],
            ),
            (&["0", "7", "01"], &["x", "-1", "1,"]),
            (&["NVIDIA H200", "NVIDIA A100", "", "NVIDIA H2OO"], &["NVIDIA,H200"]),
            (&["97 %", "98 %", "9 %", "[N/A]", "97  %", "1e2 %", "-0 %"], &["99 W", "97,%", "97 %,"]),
            (&["650.25 W", "650.26 W", "651.25 W", "65.25 W", "[N/A] W", "650250 mW", "650.25"], &["650.25 w", "6,0.25 W"]),
            (&["59", "60", "5", "[N/A]", "59\r"], &["5x"]),
            (&["0x0000000000000001", "0x0000000000000004", "[Not Supported]", "0x1"], &["0x000000000000000g"]),
            (&["P0", "P8"], &["P,"]),
        ];
        for k in 0..30_000u64 {
            let pick = |rnd: &mut dyn FnMut(u64) -> u64, pool: &[&str]| pool[rnd(pool.len() as u64) as usize].to_string();
            // Most rows change two or three fields, as a logger's do.
            line[1] = (k % 8).to_string();
            line[0] =
                format!("2026/11/27 {:02}:{:02}:{:02}.{:03}", 10 + k / 36_000, k / 600 % 60, k / 10 % 60, [0, 100, 250][rnd(3) as usize]);
            let mut row = line.clone();
            for _ in 0..1 + rnd(3) {
                let at = rnd(8) as usize;
                let (good, once) = pools[at];
                if rnd(12) == 0 {
                    row[at] = pick(&mut rnd, once);
                } else {
                    line[at] = pick(&mut rnd, good);
                    row[at] = line[at].clone();
                }
            }
            let mut row = row.iter().map(|f| format!(" {f}")).collect::<Vec<_>>().join(",");
            // Now and then a separator goes, or moves by one, in place.
            if rnd(40) == 0
                && let Some((at, _)) = row.match_indices(", ").nth(rnd(7) as usize)
            {
                row.replace_range(at..at + 2, [";;", " ,", ";,"][rnd(3) as usize]);
            }
            text.push_str(if rnd(500) == 0 { "" } else { &row[1..] });
            text.push('\n');
        }
        let (want, bad) = reads_as_the_reference(&text);
        assert!(want.len() > 20_000 && bad > 1_000, "both paths are exercised: {} rows, {bad} bad", want.len());
    }

    proptest::proptest! {
        #[test]
        fn no_input_makes_it_panic(text in "\\PC{0,300}", cut in 0usize..400) {
            let _ = read(&text, "p.csv", &ReadOptions::default());
            let valid = format!("{HEAD}\n2026/11/27 01:58:59.960, 0, NVIDIA H200, P0, 0 %, 0 %, 0 MiB, 143771 MiB, 77.25 W, 700.00 W, 36, 40, 345 MHz, 3201 MHz, 0x1\n");
            let cut = cut.min(valid.len());
            if valid.is_char_boundary(cut) {
                let mangled = format!("{}{}{}", &valid[..cut], text, &valid[cut..]);
                let _ = read(&mangled, "p.csv", &ReadOptions::default());
                let _ = read(&mangled, "p.csv", &ReadOptions { strict: true, ..ReadOptions::default() });
            }
        }
    }
}
