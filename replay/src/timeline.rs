//! Each GPU's timeline once a reader has the rows: samples out of order
//! counted, rows sorted by time, gaps counted. The rows are scanned in
//! parts on all cores and the parts joined in order, so the counts do not
//! depend on how many.

use crate::{ReadReport, Telemetry};

/// GPU indices as dense slots, in order of first sight: a table for small
/// indices, a map for the rest.
#[derive(Default)]
struct GpuSlots {
    small: Vec<u32>,
    large: std::collections::BTreeMap<u32, u32>,
    /// Each slot's GPU index.
    gpus: Vec<u32>,
}

impl GpuSlots {
    #[inline]
    fn slot(&mut self, g: u32) -> usize {
        match self.small.get(g as usize) {
            Some(&s) if s != u32::MAX => s as usize,
            _ => self.first_sight(g),
        }
    }

    /// A GPU's slot when the table does not have it yet.
    #[cold]
    fn first_sight(&mut self, g: u32) -> usize {
        let s = if g < 4096 {
            if self.small.len() <= g as usize {
                self.small.resize(g as usize + 1, u32::MAX);
            }
            &mut self.small[g as usize]
        } else {
            self.large.entry(g).or_insert(u32::MAX)
        };
        if *s == u32::MAX {
            *s = self.gpus.len() as u32;
            self.gpus.push(g);
        }
        *s as usize
    }
}

/// A run of consecutive rows, scanned on its own.
#[derive(Default)]
struct Part {
    /// The part's GPUs, by its own slots.
    slots: GpuSlots,
    /// Per slot: the GPU's first and last time in the part, and the
    /// intervals between its samples there.
    first: Vec<i64>,
    last: Vec<i64>,
    steps: Vec<Vec<i64>>,
    /// Samples earlier than their GPU's sample before, in the part.
    non_monotonic: usize,
    /// Whether the part's rows are in time order.
    sorted: bool,
    /// The times of its first and last rows.
    ends: Option<(i64, i64)>,
}

fn scan(gpu: &[u32], time: &[i64]) -> Part {
    let mut slots = GpuSlots::default();
    // Locals, not the result's fields: kept in registers rather than
    // written back at each row.
    let (mut first, mut last, mut steps) = (Vec::new(), Vec::<i64>::new(), Vec::<Vec<i64>>::new());
    let (mut non_monotonic, mut sorted) = (0, true);
    let mut prev = i64::MIN;
    for (&g, &t) in gpu.iter().zip(time) {
        let k = slots.slot(g);
        match (last.get_mut(k), steps.get_mut(k)) {
            (Some(l), Some(s)) => {
                non_monotonic += usize::from(t < *l);
                s.push(t - *l);
                *l = t;
            }
            _ => {
                first.push(t);
                last.push(t);
                steps.push(Vec::new());
            }
        }
        sorted &= t >= prev;
        prev = t;
    }
    let ends = time.first().zip(time.last()).map(|(a, b)| (*a, *b));
    Part { slots, first, last, steps, non_monotonic, sorted, ends }
}

/// The rows in parts on all cores, joined: each GPU's intervals in row
/// order (as pieces, one a part, with the interval across each part's
/// start), the samples earlier than their GPU's last, and whether the rows
/// are in time order.
struct Scan {
    parts: Vec<Part>,
    /// Per GPU, in order of first sight: (part, its slot there, the
    /// interval from the GPU's sample before that part), a part at a time.
    pieces: Vec<Vec<(usize, usize, Option<i64>)>>,
    non_monotonic: usize,
    sorted: bool,
}

/// [`scan_all_in`] in parts of 50,000 rows or more, on all cores.
fn scan_all(t: &Telemetry) -> Scan {
    scan_all_in(t, (t.len() / 50_000).clamp(1, crate::cores::cores()))
}

/// The rows in `count` parts.
fn scan_all_in(t: &Telemetry, count: usize) -> Scan {
    let rows = t.len();
    let count = count.max(1);
    let ranges: Vec<std::ops::Range<usize>> = (0..count).map(|p| rows * p / count..rows * (p + 1) / count).collect();
    let parts = crate::cores::on_cores(ranges, count, |r| scan(&t.gpu[r.clone()], &t.time_ns[r]));
    let mut gpus = GpuSlots::default();
    let mut last: Vec<i64> = Vec::new();
    let mut pieces: Vec<Vec<(usize, usize, Option<i64>)>> = Vec::new();
    let mut non_monotonic = 0;
    let mut sorted = true;
    let mut end: Option<i64> = None;
    for (p, part) in parts.iter().enumerate() {
        // The part's first row against the part before's last.
        if let (Some(e), Some((first_row, last_row))) = (end, part.ends) {
            sorted &= first_row >= e;
            end = Some(last_row);
        } else {
            end = part.ends.map(|(_, l)| l).or(end);
        }
        non_monotonic += part.non_monotonic;
        sorted &= part.sorted;
        for (k, &g) in part.slots.gpus.iter().enumerate() {
            let slot = gpus.slot(g);
            let across = match last.get(slot) {
                Some(&l) => {
                    non_monotonic += usize::from(part.first[k] < l);
                    Some(part.first[k] - l)
                }
                None => {
                    last.push(0);
                    pieces.push(Vec::new());
                    None
                }
            };
            last[slot] = part.last[k];
            pieces[slot].push((p, k, across));
        }
    }
    Scan { parts, pieces, non_monotonic, sorted }
}

/// Gaps of one GPU: intervals more than three times its median. Its
/// intervals come in pieces; a GPU's repeated first time is no interval
/// (its leading zero intervals are dropped).
fn gaps(scan: &Scan, pieces: &[(usize, usize, Option<i64>)]) -> usize {
    let mut s: Vec<i64> = Vec::with_capacity(pieces.iter().map(|(p, k, _)| scan.parts[*p].steps[*k].len() + 1).sum());
    for &(p, k, across) in pieces {
        s.extend(across);
        s.extend_from_slice(&scan.parts[p].steps[k]);
    }
    let lead = s.iter().take_while(|d| **d == 0).count();
    let s = &mut s[lead..];
    if s.is_empty() {
        return 0;
    }
    let mid = s.len() / 2;
    let median = *s.select_nth_unstable(mid).1;
    s.iter().filter(|&&d| median > 0 && d > 3 * median).count()
}

/// Counts out-of-order samples per GPU, sorts rows by time (stably, so
/// equal times keep file order), and counts gaps per GPU: intervals more
/// than three times the GPU's median interval.
pub fn finish(t: Telemetry, report: &mut ReadReport) -> Telemetry {
    finish_in(t, report, None)
}

/// [`finish`] with the rows in `parts` parts (by default, as many as
/// there are cores, of 50,000 rows or more).
fn finish_in(mut t: Telemetry, report: &mut ReadReport, parts: Option<usize>) -> Telemetry {
    let scan_all = |t: &Telemetry| match parts {
        Some(n) => scan_all_in(t, n),
        None => scan_all(t),
    };
    let first = scan_all(&t);
    report.non_monotonic += first.non_monotonic;
    let scan = if first.sorted {
        first
    } else {
        let mut order: Vec<usize> = (0..t.len()).collect();
        order.sort_by_key(|&i| t.time_ns[i]);
        t.permute(&order);
        scan_all(&t)
    };
    report.rows = t.len();
    let per_gpu: Vec<&[(usize, usize, Option<i64>)]> = scan.pieces.iter().map(Vec::as_slice).collect();
    report.gaps += crate::cores::on_all(per_gpu, |pieces| gaps(&scan, pieces)).into_iter().sum::<usize>();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    /// The reference: one pass in row order, a GPU's repeated first time
    /// no interval.
    fn reference(t: &Telemetry) -> (usize, bool, usize) {
        let mut last: std::collections::BTreeMap<u32, i64> = Default::default();
        let mut steps: std::collections::BTreeMap<u32, Vec<i64>> = Default::default();
        let (mut non_monotonic, mut sorted, mut prev) = (0, true, i64::MIN);
        for (&g, &time) in t.gpu.iter().zip(&t.time_ns) {
            if let Some(l) = last.insert(g, time) {
                non_monotonic += usize::from(time < l);
                let s = steps.entry(g).or_default();
                if l != time || !s.is_empty() {
                    s.push(time - l);
                }
            }
            sorted &= time >= prev;
            prev = time;
        }
        let gaps = steps
            .values_mut()
            .filter(|s| !s.is_empty())
            .map(|s| {
                let mid = s.len() / 2;
                let median = *s.select_nth_unstable(mid).1;
                s.iter().filter(|&&d| median > 0 && d > 3 * median).count()
            })
            .sum();
        (non_monotonic, sorted, gaps)
    }

    proptest::proptest! {
        #[test]
        fn parts_count_as_one_pass(
            rows in proptest::collection::vec((0u32..6, 0i64..40, 0u8..30), 0..400),
            parts in 1usize..7,
        ) {
            // Times mostly rising by GPU, with repeats, jumps and steps back.
            let mut t = Telemetry::default();
            let mut clock = [0i64; 6];
            for (g, step, kind) in rows {
                let c = &mut clock[g as usize];
                *c += match kind { 0 => -step, 1 => 0, 2 => 50 * step, _ => step.min(3) };
                t.push(Sample::new(*c, if g == 5 { 5000 } else { g }));
            }
            let (non_monotonic, sorted, _) = reference(&t);
            let scan = scan_all_in(&t, parts);
            proptest::prop_assert_eq!((scan.non_monotonic, scan.sorted), (non_monotonic, sorted));
            let mut report = ReadReport::default();
            let t = finish_in(t, &mut report, Some(parts));
            // Sorted, the gaps are those of the rows in time order.
            let (_, now_sorted, gaps) = reference(&t);
            proptest::prop_assert!(now_sorted);
            proptest::prop_assert_eq!((report.non_monotonic, report.gaps, report.rows), (non_monotonic, gaps, t.len()));
        }
    }
}
