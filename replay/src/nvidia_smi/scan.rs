//! Byte scanners of the fast path: decimals, GPU indices, hex bitmasks,
//! field ends, a field's number in the header's unit. Each reads exactly
//! what the reference reading ([`super::reference`]) accepts, or gives
//! `None` for the reference reading to decide.

pub(super) const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// A decimal without exponent from `p`, as nvidia-smi writes it: an
/// optional `-`, digits, optionally a point and more digits, at most 15 in
/// all. Exactly rounded (digits and a power of ten both exact in f64, one
/// rounding in the division). Gives the value and where it ends; `None`
/// for anything else, which the slow path then reads.
#[inline(always)]
pub(super) fn decimal(b: &[u8], mut p: usize) -> Option<(f64, usize)> {
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
pub(super) fn plain_index(b: &[u8], mut p: usize) -> Option<(u32, usize)> {
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
pub(super) fn index_in(f: &[u8]) -> Option<u32> {
    plain_index(f, 0).filter(|(_, end)| *end == f.len()).map(|(g, _)| g)
}

/// Up to 16 hex digits, after an optional `0x`.
#[inline]
pub(super) fn fast_hex(f: &[u8]) -> Option<u64> {
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
pub(super) fn trim(b: &[u8]) -> &[u8] {
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
pub(super) fn two_digits(a: u8, b: u8) -> Option<i64> {
    let (h, l) = (a.wrapping_sub(b'0'), b.wrapping_sub(b'0'));
    (h < 10 && l < 10).then_some(i64::from(h) * 10 + i64::from(l))
}

/// Byte-wise equality of short slices, without a call.
#[inline]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Where the field from `p` ends: the next `,` or `\n`, or the end (`p`
/// itself when it is past the end).
#[inline]
pub(super) fn field_end(b: &[u8], p: usize) -> usize {
    match b.get(p..) {
        Some(rest) => memchr::memchr2(b',', b'\n', rest).map_or(b.len(), |i| p + i),
        None => p,
    }
}

/// The common value on the fast path, read in one pass: a decimal without
/// exponent, then nothing or the header's unit, up to the field's end.
/// Gives the value in the header's unit and where the field ends; `None`
/// for anything else (nulls, other units), which [`fast_row`] reads the
/// general way.
#[inline]
pub(super) fn plain_value(b: &[u8], mut p: usize, unit: Option<&[u8]>) -> Option<(f64, usize)> {
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

/// A decimal without exponent and nothing or the header's unit after it,
/// filling the field `f` (spaces and a `\r` allowed around them), as
/// [`plain_value`] reads it; `None` for anything else.
#[inline]
pub(super) fn number_in(f: &[u8], unit: Option<&[u8]>) -> Option<f64> {
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
