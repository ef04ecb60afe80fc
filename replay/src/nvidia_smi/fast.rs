//! The fast path: a well-formed line read in one pass into row slots,
//! each field compared with its column's field in the line before and read
//! only when it changed (see [`Memo`], [`LineDiff`]); anything unusual goes
//! to the reference reading ([`super::reference`]).

use super::clock::Clock;
use super::columns::Rows;
use super::line_diff::LineDiff;
use super::reference::{Column, Target, parse_row, scale};
use super::scan::*;
use crate::telemetry::Field;
use crate::{ReadReport, Sample};

/// How a column is read on the fast path: its target, the factor from the
/// header's unit to the canonical one, and that unit's bytes.
pub(super) struct Plan {
    pub(super) target: Target,
    pub(super) header_factor: f64,
    pub(super) unit: Option<Box<[u8]>>,
    /// Where its reading goes in a row's slots: a measurement's index, or
    /// [`TIME`], [`GPU`], [`THROTTLE`], [`NOWHERE`].
    pub(super) dest: usize,
}

/// Row slots after the measurements: the time, the GPU, the bitmask, and
/// one that nothing reads (names and ignored columns).
pub(super) const TIME: usize = Field::COUNT;
pub(super) const GPU: usize = Field::COUNT + 1;
pub(super) const THROTTLE: usize = Field::COUNT + 2;
pub(super) const NOWHERE: usize = Field::COUNT + 3;
pub(super) const SLOTS: usize = Field::COUNT + 4;

/// Row slots when nothing is read: measurements NaN, the rest 0.
pub(super) const EMPTY_SLOTS: [u64; SLOTS] = {
    let mut slots = [0u64; SLOTS];
    let mut f = 0;
    while f < Field::COUNT {
        slots[f] = f64::NAN.to_bits();
        f += 1;
    }
    slots
};

/// What one chunk of lines gave.
pub(super) struct ChunkOut {
    /// Rows written to the chunk's share.
    pub(super) rows: usize,
    pub(super) names: std::collections::BTreeMap<u32, String>,
    /// (line index in the chunk, field, message).
    pub(super) problems: Vec<(usize, Option<String>, String)>,
    pub(super) lines: usize,
    /// Newlines in the chunk: where the next one starts.
    pub(super) newlines: usize,
    pub(super) truncated: bool,
    pub(super) unit_mismatches: usize,
}

/// What the fast path keeps between rows.
pub(super) struct State {
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
pub(super) struct Memo {
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
pub(super) const MISMATCH: u32 = 1 << 31;

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
pub(super) const FIELD_MASKS: [u128; 16] = {
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
pub(super) fn repeats(b: &[u8], s: usize, prev: usize, len: usize) -> Option<bool> {
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

/// Any field of `plan`'s column on the fast path, trimmed: its reading's
/// bits, whether there is one, and whether its unit differed from the
/// header's; `None` sends the line to the slow path.
pub(super) fn any_field(plan: &Plan, f: &[u8], clock: &mut Clock) -> Option<(u64, bool, bool)> {
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
            let (num, unit) = match memchr::memchr(b' ', f) {
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
pub(super) fn read_field(b: &[u8], s: usize, row: usize, plan: &Plan, clock: &mut Clock, m: &mut Memo) -> Option<usize> {
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

/// A field of a known place, `f`, on the same-layout path: its reading's
/// bits, whether there is one, and whether its unit differed from the
/// header's; `None` when it does not read, or holds a separator (the line's
/// fields moved).
#[inline]
pub(super) fn reread(f: &[u8], plan: &Plan, clock: &mut Clock) -> Option<(u64, bool, bool)> {
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
pub(super) fn same_layout_row(b: &[u8], start: usize, plans: &[Plan], st: &mut State) -> Option<(u32, usize)> {
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
pub(super) fn fast_row(b: &[u8], start: usize, plans: &[Plan], rows: &mut Rows<'_>, out: &mut ChunkOut, st: &mut State) -> Option<usize> {
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
pub(super) fn fields_row(b: &[u8], start: usize, plans: &[Plan], st: &mut State) -> Option<(u32, usize)> {
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
pub(super) fn parse_chunk(chunk: &str, cols: &[Column], plans: &[Plan], rows: &mut Rows<'_>, last_chunk_cut: bool) -> ChunkOut {
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
    out.rows = rows.len();
    out.names = std::mem::take(&mut rows.names);
    out
}

impl Rows<'_> {
    /// Appends a row the reference reading gave.
    pub(super) fn push_sample(&mut self, s: Sample) {
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
