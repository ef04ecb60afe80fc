//! A YAML stream cut into its documents, each remembering the line it starts on.
//!
//! `kustomize build` and `kubectl get -o yaml` print one stream of documents
//! separated by `---` lines. Each document is read on its own, so an error in
//! one names its document and a line in the file: the line within the
//! document plus the line the document starts on.
//!
//! A separator is a line that starts with `---` followed by nothing, a space
//! or a tab (`--- # comment` and `--- |` included: the separator line is kept
//! as the first line of the document it opens, where the YAML parser reads
//! it). A line `...` ends a document. A `---` line inside a block scalar at
//! column 0 would be taken for a separator; Kubernetes objects are mappings,
//! whose block scalars are indented, so this does not arise in manifests.

use std::ops::Range;

/// One document's text: a byte range of the stream and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Bytes of the stream.
    pub(crate) range: Range<usize>,
    /// The line of the stream the range starts on, from 1.
    pub(crate) first_line: usize,
}

/// Whether `line` (with or without its line break) is the marker `marker`
/// alone or followed by a space or tab.
pub(crate) fn is_marker(line: &str, marker: &str) -> bool {
    let l = line.trim_end_matches(['\n', '\r']);
    l.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Cuts `text` into documents. Chunks holding only whitespace are dropped;
/// chunks of only comments are kept (the parser finds them empty).
pub(crate) fn split(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut pos = 0;
    let push = |chunks: &mut Vec<Chunk>, range: Range<usize>, first_line: usize| {
        if !text[range.clone()].trim().is_empty() {
            chunks.push(Chunk { range, first_line });
        }
    };
    for (line_no, line) in (1..).zip(text.split_inclusive('\n')) {
        let end = pos + line.len();
        if is_marker(line, "---") {
            push(&mut chunks, start..pos, start_line);
            start = pos;
            start_line = line_no;
        } else if is_marker(line, "...") {
            push(&mut chunks, start..end, start_line);
            start = end;
            start_line = line_no + 1;
        }
        pos = end;
    }
    push(&mut chunks, start..text.len(), start_line);
    chunks
}

/// The first line of `chunk` (starting on line `first_line`) that holds
/// content: not blank, not a comment, not a `---` separator alone.
pub(crate) fn first_content_line(chunk: &str, first_line: usize) -> usize {
    for (i, line) in chunk.lines().enumerate() {
        let t = line.trim();
        let bare_marker = is_marker(line, "---") && {
            let rest = t[3..].trim_start();
            rest.is_empty() || rest.starts_with('#')
        };
        if !(t.is_empty() || t.starts_with('#') || bare_marker || t.starts_with('%')) {
            return first_line + i;
        }
    }
    first_line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<(&str, usize)> {
        split(text).into_iter().map(|c| (&text[c.range], c.first_line)).collect()
    }

    #[test]
    fn separators_open_documents_and_keep_their_line() {
        let text = "---\na: 1\n--- # two\nb: 2\n---\n\n---\nc: 3\n";
        assert_eq!(docs(text), [("---\na: 1\n", 1), ("--- # two\nb: 2\n", 3), ("---\n\n", 5), ("---\nc: 3\n", 7)]);
    }

    #[test]
    fn a_stream_without_a_leading_separator_and_end_markers() {
        let text = "a: 1\n...\n---\nb: 2\n...\n";
        assert_eq!(docs(text), [("a: 1\n...\n", 1), ("---\nb: 2\n...\n", 3)]);
        assert_eq!(docs("x: 1\n---"), [("x: 1\n", 1), ("---", 2)]);
        assert!(docs("").is_empty());
        assert!(docs("\n \n").is_empty());
    }

    #[test]
    fn dashes_inside_a_line_are_not_separators() {
        assert_eq!(docs("a: ---\n----\nb: '---'\n").len(), 1);
    }

    #[test]
    fn crlf_line_ends() {
        assert_eq!(docs("a: 1\r\n---\r\nb: 2\r\n").len(), 2);
    }

    #[test]
    fn the_first_content_line_skips_separators_and_comments() {
        assert_eq!(first_content_line("--- # x\n# c\n\napiVersion: v1\n", 10), 13);
        assert_eq!(first_content_line("--- |\n  text\n", 4), 4);
    }
}
