//! A scenario's Rego policies (`[policies]`): the files read, then compiled.

use crate::{InputError, Source, library};
use std::path::{Path, PathBuf};
use twin_policy::RegoPolicies;
use twin_sim::scenario::spec::PoliciesSpec;

/// The text of a scenario's policies and data, read once, compiled as often
/// as runs need (each run gets its own decision cache).
#[derive(Clone, Debug, Default)]
pub struct PolicySources {
    /// (file, text) of each policy, in the order they are compiled.
    pub files: Vec<(String, String)>,
    /// The data document (JSON), if any.
    pub data: Option<String>,
}

impl PolicySources {
    /// Reads the files (or folders of `.rego` files, tests excluded) the spec names.
    pub fn read(source: &Source, spec: &PoliciesSpec) -> Result<PolicySources, InputError> {
        let files = read_sources(source, &spec.files)?;
        let data = match &spec.data {
            Some(d) => read_sources(source, std::slice::from_ref(d))?.into_iter().next().map(|(_, text)| text),
            None => None,
        };
        Ok(PolicySources { files, data })
    }

    /// Compiles the policies for one run.
    pub fn compile(&self) -> Result<RegoPolicies, InputError> {
        Ok(RegoPolicies::new(&self.files, self.data.as_deref())?)
    }
}

fn io(path: &Path, e: std::io::Error) -> InputError {
    InputError::Io { path: path.to_path_buf(), source: e }
}

/// Reads the files (or folders of `.rego` files, tests excluded) named relative to `source`.
fn read_sources(source: &Source, names: &[String]) -> Result<Vec<(String, String)>, InputError> {
    let mut out = Vec::new();
    for name in names {
        match source {
            Source::Dir(_) | Source::Tree { .. } => {
                let path = source.resolve(name);
                if path.is_dir() {
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                        .map_err(|e| io(&path, e))?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "rego") && !is_test(p))
                        .collect();
                    files.sort();
                    for f in files {
                        out.push((f.display().to_string(), std::fs::read_to_string(&f).map_err(|e| io(&f, e))?));
                    }
                } else {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        let named = crate::NamedFile {
                            what: "policy file",
                            path: path.clone(),
                            field: "policies.files".into(),
                            file: name.clone(),
                            origin: "the scenario's [policies]".into(),
                        };
                        named.missing(e, source.relative_to())
                    })?;
                    out.push((path.display().to_string(), text));
                }
            }
            Source::BuiltIn => {
                let key = name.trim_start_matches("../").trim_start_matches("./").trim_end_matches('/');
                let found: Vec<(String, String)> = library::POLICIES
                    .iter()
                    .filter(|(p, _)| *p == key || (p.starts_with(&format!("{key}/")) && p.ends_with(".rego") && !p.ends_with("_test.rego")))
                    .map(|(p, t)| (format!("<built-in>/{p}"), t.to_string()))
                    .collect();
                if found.is_empty() {
                    return Err(InputError::UnknownName {
                        what: "built-in policy file",
                        name: name.clone(),
                        known: library::POLICIES.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", "),
                    });
                }
                out.extend(found);
            }
        }
    }
    Ok(out)
}

fn is_test(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_test.rego"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_policies_come_from_the_library_without_their_tests() {
        let spec = PoliciesSpec { files: vec!["../policies".into()], data: Some("../policies/data.json".into()) };
        let p = PolicySources::read(&Source::BuiltIn, &spec).unwrap();
        let names: Vec<&str> = p.files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["<built-in>/policies/admission.rego", "<built-in>/policies/placement.rego", "<built-in>/policies/scaling.rego"]);
        assert!(p.data.as_deref().is_some_and(|d| d.trim_start().starts_with('{')));
        p.compile().unwrap();
    }

    #[test]
    fn a_missing_policy_file_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let spec = PoliciesSpec { files: vec!["nope.rego".into()], data: None };
        let e = PolicySources::read(&Source::Dir(dir.path().into()), &spec).unwrap_err().to_string();
        assert!(e.contains("policies.files = \"nope.rego\""), "{e}");
    }
}
