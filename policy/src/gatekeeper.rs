//! What Gatekeeper asks of an admission policy before it runs it.
//!
//! Gatekeeper compiles a ConstraintTemplate's Rego with only `input` and
//! `data.inventory` to read (plus the template's `libs` under `data.lib`);
//! a reference to any other `data` path is refused when the template is
//! created. Twin's admission policies also run in the twin, where the data
//! file is loaded, so a reference to `data.config` would work in the twin and
//! fail in the cluster. [`foreign_data_refs`] finds those references.

/// A `data` reference Gatekeeper would refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRef {
    /// 1-based line.
    pub line: usize,
    /// The reference, such as `data.config.gpu_quota`.
    pub path: String,
}

impl std::fmt::Display for DataRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: `{}`: Gatekeeper lets a template read only input, data.inventory and data.lib; pass settings as input.parameters",
            self.line, self.path
        )
    }
}

/// References to `data` other than `data.inventory`, `data.lib` and the
/// policy's own package, outside comments and string literals.
pub fn foreign_data_refs(text: &str) -> Vec<DataRef> {
    let package = crate::package_of(text).map(|p| format!("data.{p}"));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = strip_strings_and_comment(line);
        let bytes = code.as_bytes();
        let mut at = 0;
        while let Some(pos) = code[at..].find("data") {
            let start = at + pos;
            at = start + 4;
            let before_ok = start == 0 || !is_ident(bytes[start - 1]) && bytes[start - 1] != b'.';
            let after = bytes.get(start + 4).copied();
            if !before_ok || after.is_some_and(is_ident) {
                continue;
            }
            let path: String = code[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
            let allowed = path == "data.inventory"
                || path.starts_with("data.inventory.")
                || path == "data.lib"
                || path.starts_with("data.lib.")
                || package.as_ref().is_some_and(|p| path == *p || path.starts_with(&format!("{p}.")));
            // `data` alone or `data[...]`: the whole document.
            at = start + path.len().max(4);
            if !allowed {
                out.push(DataRef { line: i + 1, path });
            }
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The line with string literals blanked and any `#` comment cut off.
fn strip_strings_and_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                out.push(' ');
            }
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push(' ');
            }
            None if c == '#' => break,
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_admission_policy_reads_only_what_gatekeeper_gives() {
        assert_eq!(foreign_data_refs(include_str!("../../policies/admission.rego")), vec![]);
    }

    #[test]
    fn data_config_is_named_with_its_line_and_comments_and_strings_are_not() {
        let text = "package twin.admission\n\n# data.config in a comment\nviolation contains {\"msg\": \"data.config\"} if {\n\tq := data.config.gpu_quota[input.x]\n\tsome o in data.inventory.namespace[_]\n\tdata.twin.admission.helper\n\tmydata.x\n}\n";
        let refs = foreign_data_refs(text);
        assert_eq!(refs, vec![DataRef { line: 5, path: "data.config.gpu_quota".into() }]);
        assert!(refs[0].to_string().contains("input.parameters"));
    }

    #[test]
    fn the_whole_data_document_is_foreign_too() {
        let refs = foreign_data_refs("package p\n\nx if { data[k] }\n");
        assert_eq!(refs, vec![DataRef { line: 3, path: "data".into() }]);
    }
}
