//! YAML out, through serde-saphyr's serializer.

use crate::GitOpsError;
use serde::Serialize;

/// One object as a YAML document (no leading `---`), ending in a newline.
pub fn document<T: Serialize>(what: &str, object: &T) -> Result<String, GitOpsError> {
    let mut text = serde_saphyr::to_string(object).map_err(|e| GitOpsError::Render(format!("{what}: cannot write YAML: {e}")))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Objects as a multi-document stream, `---` between them.
pub fn stream(documents: &[String]) -> String {
    documents.join("---\n")
}
