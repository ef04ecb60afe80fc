//! The telemetry's columns, filled in place by the chunks that read them.
//!
//! Each chunk of lines gets a share of every column the file has, as long as
//! its lines (a chunk has at most one row per line), and writes its rows at
//! the front of its share through its [`Rows`], with no copy between reading
//! and the columns. The columns are allocated but not zeroed (that would be
//! a pass over all of them for nothing); [`Columns::close`] then closes up
//! the shares and gives the columns their length.
//!
//! This file holds the crate's one `unsafe` block, the `set_len` in
//! [`Columns::close`], and everything its soundness rests on:
//!
//! **Invariant.** When a [`Rows`] says it has written `n` rows (its
//! [`Written`]), the first `n` values of its share of every column of the
//! layout are initialised. It holds because
//! - [`Rows::push`] is the only code that writes to a share or moves a
//!   `Rows`' count, and writes the row to every share before it counts it;
//!   the fields of [`Rows`] are private to this file;
//! - a [`Written`] is made only by [`Rows::done`], from its own `Rows`, and
//!   carries the id of its [`Columns`] and its share's index;
//!   [`Columns::close`] takes exactly one for each of its shares, in order,
//!   and panics otherwise.

use crate::Telemetry;
use crate::telemetry::Field;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fast::{GPU, SLOTS, THROTTLE, TIME};

/// Which canonical columns a file has: the rest are all null.
pub(super) struct Layout {
    /// The fields some column fills, in [`Field`] order.
    pub(super) fields: Vec<Field>,
    pub(super) throttle: bool,
}

/// Telemetry columns with room for every line, shared out among chunks.
pub(super) struct Columns {
    t: Telemetry,
    /// Each share's length: its chunk's lines.
    bounds: Vec<usize>,
    layout: Layout,
    /// Tells this value's [`Written`]s from another's.
    id: u64,
}

/// Ids of [`Columns`], one each.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One chunk's share of the telemetry's columns, filled from the front.
pub(super) struct Rows<'a> {
    time_ns: &'a mut [MaybeUninit<i64>],
    gpu: &'a mut [MaybeUninit<u32>],
    /// The layout's fields, each with its share of the column.
    values: Vec<(Field, &'a mut [MaybeUninit<f64>])>,
    /// Empty unless the layout has the throttle column.
    throttle: &'a mut [MaybeUninit<Option<u64>>],
    /// Rows written: the first `len` of every share are.
    len: usize,
    /// Which share this is, of which [`Columns`].
    share: usize,
    id: u64,
    /// GPU names met in the chunk, by GPU index.
    pub(super) names: std::collections::BTreeMap<u32, String>,
}

/// What a chunk's [`Rows`] wrote: the only way to tell [`Columns::close`].
pub(super) struct Written {
    len: usize,
    share: usize,
    id: u64,
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

impl Columns {
    /// Columns of `layout` with room for `bounds` rows per share, not yet
    /// written. Columns the file lacks are made, all null, once the rows are
    /// counted.
    pub(super) fn with_room(bounds: Vec<usize>, layout: Layout) -> Columns {
        let total: usize = bounds.iter().sum();
        let mut t = Telemetry { time_ns: Vec::with_capacity(total), gpu: Vec::with_capacity(total), ..Telemetry::default() };
        t.throttle_reasons = Vec::with_capacity(if layout.throttle { total } else { 0 });
        for f in &layout.fields {
            t.values[*f as usize] = Vec::with_capacity(total);
        }
        Columns { t, bounds, layout, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) }
    }

    /// The shares, one per bound, in order.
    pub(super) fn shares(&mut self) -> Vec<Rows<'_>> {
        let Columns { t, bounds, layout, id } = self;
        let mut time = split_into(t.time_ns.spare_capacity_mut(), bounds).into_iter();
        let mut gpu = split_into(t.gpu.spare_capacity_mut(), bounds).into_iter();
        let mut throttle = split_into(t.throttle_reasons.spare_capacity_mut(), if layout.throttle { bounds } else { &[] }).into_iter();
        let mut values: Vec<(Field, std::vec::IntoIter<&mut [MaybeUninit<f64>]>)> = t
            .values
            .iter_mut()
            .zip(Field::ALL)
            .filter(|(_, f)| layout.fields.contains(f))
            .map(|(col, f)| (f, split_into(col.spare_capacity_mut(), bounds).into_iter()))
            .collect();
        (0..bounds.len())
            .map(|share| Rows {
                time_ns: time.next().unwrap_or_default(),
                gpu: gpu.next().unwrap_or_default(),
                values: values.iter_mut().map(|(f, shares)| (*f, shares.next().unwrap_or_default())).collect(),
                throttle: throttle.next().unwrap_or_default(),
                len: 0,
                share,
                id: *id,
                names: Default::default(),
            })
            .collect()
    }

    /// The telemetry, once every share has been written: each share's rows
    /// follow the share before's; columns the file lacks are all null.
    /// `written` is each share's [`Rows::done`], in order.
    pub(super) fn close(self, written: &[Written]) -> Telemetry {
        let Columns { mut t, bounds, layout, id } = self;
        assert!(
            written.len() == bounds.len() && written.iter().enumerate().all(|(k, w)| w.share == k && w.id == id),
            "every share of these columns, in order"
        );
        // Close up the shares: each chunk's rows follow the chunk before's.
        let mut at = 0;
        let mut from = 0;
        for (w, bound) in written.iter().zip(&bounds) {
            if from != at && w.len > 0 {
                let range = from..from + w.len;
                t.time_ns.spare_capacity_mut().copy_within(range.clone(), at);
                t.gpu.spare_capacity_mut().copy_within(range.clone(), at);
                if layout.throttle {
                    t.throttle_reasons.spare_capacity_mut().copy_within(range.clone(), at);
                }
                for f in &layout.fields {
                    t.values[*f as usize].spare_capacity_mut().copy_within(range.clone(), at);
                }
            }
            at += w.len;
            from += bound;
        }
        // SAFETY: the first `at` values of each of these columns are
        // initialised, and `at` is within their capacity. By the invariant
        // (see the file's doc), each share's first `w.len` values are, in
        // every column of the layout (`w.len` is at most the share's length:
        // `Rows::push` indexes the share, checked); the loop above moved
        // each share's rows to follow the share before's, from 0 to `at`.
        // The values are `Copy`: nothing is dropped twice or leaked.
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
        // The columns the file lacks, filled with nulls on all cores.
        let absent: Vec<&mut Vec<f64>> =
            Field::ALL.iter().zip(&mut t.values).filter(|(f, _)| !layout.fields.contains(f)).map(|(_, c)| c).collect();
        crate::cores::on_all(absent, |col| *col = vec![f64::NAN; at]);
        if !layout.throttle {
            t.throttle_reasons = vec![None; at];
        }
        t
    }
}

impl Rows<'_> {
    /// Appends a row: `slots` as they are (a slot not read holds its
    /// [`super::fast::EMPTY_SLOTS`] value: NaN for a measurement, as in the
    /// telemetry's columns, since a value read is always finite), the bitmask
    /// where `has` has its bit. The one place rows are written: every share
    /// gets the row before it counts.
    #[inline(always)]
    pub(super) fn push(&mut self, slots: &[u64; SLOTS], has: u32) {
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

    /// Rows written so far.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// What this share holds, for [`Columns::close`].
    pub(super) fn done(self) -> Written {
        Written { len: self.len, share: self.share, id: self.id }
    }
}
