//! A line compared with the line just before it, 16 bytes at a time.
//!
//! Telemetry written by a logger changes little from row to row: the GPU
//! index, a power reading, a tick's timestamp. When a line is as long as
//! the line before, [`LineDiff`] finds which of its bytes changed, in one
//! pass of vector compares (SSE2 on x86-64, through `safe_arch`; byte by
//! byte elsewhere, with the same results). A reader that knows where the
//! line before had its fields then reads only the fields with a changed
//! byte; it must check that each of those still ends where it ended, and
//! that no separator between fields changed.

/// The longest line (with its newline) that is compared.
pub(crate) const MAX_LINE: usize = 256;

/// Which bytes of a line differ from the line before, for a line as long
/// as the line before.
pub(crate) struct LineDiff {
    /// Bit `i % 64` of word `i / 64` set when byte `i` differs.
    words: [u64; MAX_LINE / 64],
}

/// For 16 bytes of this line and the same 16 of the line before: which
/// differ, a bit per byte.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn differ(cur: &[u8; 16], prev: &[u8; 16]) -> u64 {
    use safe_arch::{cmp_eq_mask_i8_m128i as eq, load_unaligned_m128i as load, move_mask_i8_m128i as mask};
    u64::from(!mask(eq(load(cur), load(prev))) as u16)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn differ(cur: &[u8; 16], prev: &[u8; 16]) -> u64 {
    cur.iter().zip(prev).enumerate().fold(0, |m, (i, (c, p))| m | u64::from(c != p) << i)
}

impl LineDiff {
    /// No byte differs yet.
    pub(crate) fn new() -> LineDiff {
        LineDiff { words: [0; MAX_LINE / 64] }
    }

    /// Compares the line of `len` bytes at `at` in `b` with the line just
    /// before it, of `len` bytes and a newline. `false` when the line does
    /// not end with `\n` after `len` bytes (it is not as long), is longer
    /// than [`MAX_LINE`], or ends less than 16 bytes before the end of `b`
    /// (compared blocks stay inside it).
    #[inline]
    pub(crate) fn compare(&mut self, b: &[u8], at: usize, len: usize) -> bool {
        let Some(prev) = at.checked_sub(len + 1) else { return false };
        let blocks = (len + 1).div_ceil(16);
        if len + 1 > MAX_LINE || b.get(at + len) != Some(&b'\n') {
            return false;
        }
        let (Some(cur), Some(before)) = (b.get(at..at + 16 * blocks), b.get(prev..prev + 16 * blocks)) else { return false };
        let (cur, before) = (cur.as_chunks::<16>().0, before.as_chunks::<16>().0);
        // Four blocks to a word, built in a register.
        for (k, w) in self.words.iter_mut().enumerate() {
            *w = (0..4).fold(0, |word, j| match (cur.get(4 * k + j), before.get(4 * k + j)) {
                (Some(c), Some(p)) => word | differ(c, p) << (16 * j),
                _ => word,
            });
        }
        // The line's own bytes only: the newline was checked above, and the
        // bytes after it (in the word that holds it) belong to the next line.
        if let Some(w) = self.words.get_mut(len / 64) {
            *w &= (1 << (len % 64)) - 1;
        }
        true
    }

    /// The bytes that differ, in order.
    #[cfg(test)]
    fn changed(&self) -> Vec<usize> {
        let mut at = Vec::new();
        let mut from = 0;
        while let Some(i) = self.next_change(from) {
            at.push(i);
            from = i + 1;
        }
        at
    }

    /// The first byte from `from` on that differs.
    #[inline]
    pub(crate) fn next_change(&self, from: usize) -> Option<usize> {
        let mut k = from / 64;
        let mut w = self.words.get(k)? & (u64::MAX << (from % 64));
        while w == 0 {
            k += 1;
            w = *self.words.get(k)?;
        }
        Some(64 * k + w.trailing_zeros() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn finds_the_bytes_that_changed(
            prev in proptest::collection::vec(proptest::sample::select(b"0123456789 ,.x".to_vec()), 0..300),
            edits in proptest::collection::vec((0usize..300, proptest::sample::select(b"01, \n.".to_vec())), 0..6),
            tail in proptest::collection::vec(proptest::sample::select(b"0,\n".to_vec()), 0..40),
        ) {
            // A line, then the same with a few bytes changed, each with its newline.
            let mut cur = prev.clone();
            for (at, c) in edits {
                if let Some(x) = cur.get_mut(at) {
                    *x = c;
                }
            }
            let len = prev.len();
            let b: Vec<u8> = [&prev[..], b"\n", &cur, b"\n", &tail].concat();
            let mut d = LineDiff::new();
            let got = d.compare(&b, len + 1, len);
            let fits = len < MAX_LINE && b.len() >= len + 1 + 16 * (len + 1).div_ceil(16);
            proptest::prop_assert_eq!(got, fits);
            match got {
                false => {}
                true => {
                    let want: Vec<usize> = (0..len).filter(|i| prev[*i] != cur[*i]).collect();
                    proptest::prop_assert_eq!(d.changed(), want);
                }
            }
        }
    }

    #[test]
    fn a_line_of_another_length_or_too_near_the_end_is_not_compared() {
        let b = b"12, 34\n12, 35\n0123456789abcdef";
        let mut d = LineDiff::new();
        assert!(d.compare(b, 7, 6));
        assert_eq!(d.changed(), [5]);
        assert!(d.compare(b"12, 34\n1, 235\n0123456789abcdef", 7, 6));
        assert_eq!(d.changed(), [1, 2, 3, 5]);
        assert!(!d.compare(b"12, 34\n12, 35,\n0123456789abcdef", 7, 6), "longer");
        assert!(!d.compare(b"12, 34\n12, 35\n", 7, 6), "the blocks would pass the end");
        assert!(!d.compare(b, 3, 6), "no line before");
    }
}
