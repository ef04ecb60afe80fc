//! The Library screen's entries: built-in scenarios, what was given on the
//! command line, and the scenario files of the current folder, each with
//! the question it answers.

use std::path::{Path, PathBuf};

/// What an entry opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A scenario (a file or a built-in name): opens the Run screen.
    Scenario(String),
    /// A folder written by `twin run --out`: opens Results.
    RunDir(PathBuf),
    /// A folder written by `twin shadow --out` (`shadow-summary.json` or
    /// `divergences.jsonl`, no `summary.json`): opens Shadow.
    ShadowDir(PathBuf),
    /// A telemetry file: opens Telemetry.
    Trace(PathBuf),
}

/// One line of the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// Where it comes from: `built-in`, `argument`, `./`.
    pub from: &'static str,
    /// The question it answers (or its description).
    pub question: String,
    /// What opening it does.
    pub target: Target,
}

/// What a command-line argument is: a shadow folder (it has
/// `shadow-summary.json` or `divergences.jsonl`), another folder (a run's),
/// a scenario (`.toml`, or a built-in name), else a telemetry file.
pub fn classify(arg: &str) -> Target {
    let p = Path::new(arg);
    if twin_export::shadow::is_shadow_folder(p) {
        Target::ShadowDir(p.to_path_buf())
    } else if p.is_dir() {
        Target::RunDir(p.to_path_buf())
    } else if arg.ends_with(".toml") || twin_inputs::library::get(arg).is_some() {
        Target::Scenario(arg.to_string())
    } else {
        Target::Trace(p.to_path_buf())
    }
}

/// The question a scenario's header comment asks (`# Question: ...` and
/// the comment lines after it), else its `description`.
pub fn question(text: &str) -> String {
    let mut q = String::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(rest) = l.trim_start_matches('#').trim().strip_prefix("Question:") {
            q.push_str(rest.trim());
            for more in lines.by_ref() {
                let t = more.trim();
                if !t.starts_with('#') || t.trim_start_matches('#').trim().is_empty() {
                    break;
                }
                q.push(' ');
                q.push_str(t.trim_start_matches('#').trim());
            }
            return q;
        }
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix("description").map(|r| r.trim_start_matches([' ', '=']).trim().trim_matches('"').to_string()))
        .unwrap_or_default()
}

/// Every entry: the arguments first, then the built-ins, then `*.toml` in `cwd`.
pub fn entries(args: &[String], cwd: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for a in args {
        let target = classify(a);
        let question = match &target {
            Target::Scenario(s) => twin_inputs::library::get(s)
                .map(str::to_string)
                .or_else(|| std::fs::read_to_string(s).ok())
                .map(|t| question(&t))
                .unwrap_or_else(|| "(cannot be read)".into()),
            Target::RunDir(_) => "a finished run: its charts and tables".into(),
            Target::ShadowDir(_) => "twin shadow: where Twin would have decided otherwise than the real fleet".into(),
            Target::Trace(_) => "GPU telemetry: utilisation, power, idle spells".into(),
        };
        out.push(Entry { name: a.clone(), from: "argument", question, target });
    }
    for (name, text) in twin_inputs::library::SCENARIOS {
        out.push(Entry { name: name.to_string(), from: "built-in", question: question(text), target: Target::Scenario(name.to_string()) });
    }
    let mut local: Vec<PathBuf> = std::fs::read_dir(cwd)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect())
        .unwrap_or_default();
    local.sort();
    for p in local {
        let name = p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if name == "Cargo.toml" || name == "rustfmt.toml" || args.iter().any(|a| Path::new(a) == p || a == &name) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        if !text.contains("format_version") {
            continue;
        }
        out.push(Entry {
            name: format!("./{name}"),
            from: "./",
            question: question(&text),
            target: Target::Scenario(p.to_string_lossy().into_owned()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_come_from_the_header() {
        let q = question(twin_inputs::library::get("spot-inference").unwrap());
        assert!(q.starts_with("what does moving inference to spot save, and what does it cost in SLO attainment"), "{q}");
        assert!(!q.contains('#'));
        assert_eq!(question("format_version = 1\ndescription = \"just this\"\n"), "just this");
    }

    #[test]
    fn every_built_in_is_listed_with_a_question() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), "format_version = 1\n# Question: does it?\n").unwrap();
        std::fs::write(dir.path().join("other.toml"), "[not]\n").unwrap();
        let e = entries(&[], dir.path());
        assert_eq!(e.iter().filter(|x| x.from == "built-in").count(), twin_inputs::library::SCENARIOS.len());
        assert!(e.iter().all(|x| !x.question.is_empty()), "{e:?}");
        assert_eq!(e.last().unwrap().name, "./mine.toml");
        assert_eq!(e.last().unwrap().question, "does it?");
        assert_eq!(classify("spot-inference"), Target::Scenario("spot-inference".into()));
        assert_eq!(classify(dir.path().to_str().unwrap()), Target::RunDir(dir.path().to_path_buf()));
        assert_eq!(classify("gpu.csv"), Target::Trace("gpu.csv".into()));
        std::fs::write(dir.path().join("divergences.jsonl"), "").unwrap();
        assert_eq!(classify(dir.path().to_str().unwrap()), Target::ShadowDir(dir.path().to_path_buf()));
        std::fs::write(dir.path().join("summary.json"), "{}").unwrap();
        assert_eq!(classify(dir.path().to_str().unwrap()), Target::RunDir(dir.path().to_path_buf()), "a run's summary wins");
    }
}
