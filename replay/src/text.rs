//! Text as the readers take it: a file's bytes as text, its lines counted
//! and found with `memchr`.

use std::borrow::Cow;

/// `bytes` as text: valid UTF-8 (the usual case) checked and borrowed as it
/// is, which is several times quicker than the lossy conversion; anything
/// else with its bad bytes replaced by U+FFFD.
pub(crate) fn from_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// How many lines [`str::lines`] gives: every `\n` ends one, and text
/// after the last `\n` is one more.
pub(crate) fn line_count(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count() + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// Where each line of `text` starts: 0, then after each `\n`.
pub(crate) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn lines_are_counted_and_found_as_std_does(text in "[a\\r\\n]{0,12}|\\PC{0,40}") {
            proptest::prop_assert_eq!(line_count(&text), text.lines().count());
            let want: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
            proptest::prop_assert_eq!(line_starts(&text), want);
            proptest::prop_assert_eq!(from_bytes(text.as_bytes()), text.as_str());
        }
    }

    #[test]
    fn bad_bytes_are_replaced() {
        assert_eq!(from_bytes(b"a\xffb"), "a\u{fffd}b");
        assert!(matches!(from_bytes(b"ab"), Cow::Borrowed("ab")));
    }
}
