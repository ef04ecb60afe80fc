//! PriorityClasses: the priority each workload's pods get.
//!
//! A pod's `priorityClassName` names a PriorityClass of the same manifests
//! (or one of Kubernetes' two built-in classes); without one, the class
//! marked `globalDefault` applies, else priority 0, as in Kubernetes.
//! `preemptionPolicy: Never` is not modelled: Twin's preemption follows
//! priority alone (a note says so).

use crate::ManifestError;
use crate::error::{Fault, Kind};
use crate::field::FieldPath;
use crate::parse::{Manifests, Resource};
use std::collections::BTreeMap;

/// Kubernetes' built-in classes.
const BUILTIN: &[(&str, i32)] = &[("system-cluster-critical", 2_000_000_000), ("system-node-critical", 2_000_001_000)];

/// The PriorityClasses of a set of manifests.
#[derive(Clone, Debug, Default)]
pub(crate) struct Classes {
    values: BTreeMap<String, i32>,
    default: Option<(String, i32)>,
}

/// Reads every PriorityClass; `notes` gets (object index, note).
pub(crate) fn read(m: &Manifests, notes: &mut Vec<(usize, String)>) -> Result<Classes, ManifestError> {
    let mut classes = Classes::default();
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for (i, o) in m.objects().iter().enumerate() {
        let Resource::PriorityClass(pc) = &o.resource else { continue };
        let name = o.resource.name().to_string();
        if name.is_empty() {
            return Err(m.error(Kind::Shape, o, &FieldPath::of("metadata.name"), "a PriorityClass needs a name".into(), String::new()));
        }
        if let Some(&j) = first.get(&name) {
            let other = &m.objects()[j].at;
            return Err(Fault::reference(
                FieldPath::of("metadata.name"),
                format!("a second PriorityClass is called {name}"),
                format!("the first is at {other}"),
            )
            .at(m, o));
        }
        first.insert(name.clone(), i);
        let Some(value) = pc.value else {
            return Err(m.error(Kind::Shape, o, &FieldPath::root(), "a PriorityClass needs a value".into(), "such as value: 1000".into()));
        };
        if pc.global_default == Some(true) {
            if let Some((other, _)) = &classes.default {
                return Err(Fault::reference(
                    FieldPath::of("globalDefault"),
                    format!("{name} and {other} are both globalDefault"),
                    "Kubernetes allows one default class",
                )
                .at(m, o));
            }
            classes.default = Some((name.clone(), value));
        }
        if pc.preemption_policy.as_deref() == Some("Never") {
            notes.push((
                i,
                format!("PriorityClass {name}: preemptionPolicy Never is not modelled: in Twin its workloads may preempt lower priorities"),
            ));
        }
        classes.values.insert(name, value);
    }
    Ok(classes)
}

impl Classes {
    /// The priority of a pod naming `class` (at `path`), or the default.
    pub(crate) fn priority(&self, class: Option<&str>, path: &FieldPath) -> Result<i32, Fault> {
        let Some(name) = class else { return Ok(self.default.as_ref().map_or(0, |(_, v)| *v)) };
        if let Some(v) = self.values.get(name) {
            return Ok(*v);
        }
        if let Some((_, v)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Ok(*v);
        }
        let known: Vec<&str> = self.values.keys().map(String::as_str).chain(BUILTIN.iter().map(|(n, _)| *n)).collect();
        Err(Fault::reference(
            path.clone(),
            format!("PriorityClass {name} is not in the manifests"),
            format!("the classes: {}", known.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_str;

    const CLASSES: &str = "\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
preemptionPolicy: Never
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: normal}
value: 10
globalDefault: true
";

    #[test]
    fn named_default_builtin_and_unknown_classes() {
        let m = parse_str("pc.yaml", CLASSES).unwrap();
        let mut notes = Vec::new();
        let c = read(&m, &mut notes).unwrap();
        let p = FieldPath::of("spec.template.spec.priorityClassName");
        assert_eq!(c.priority(Some("high"), &p).unwrap(), 1_000);
        assert_eq!(c.priority(None, &p).unwrap(), 10);
        assert_eq!(c.priority(Some("system-node-critical"), &p).unwrap(), 2_000_001_000);
        let f = c.priority(Some("urgent"), &p).unwrap_err();
        assert_eq!(f.message, "PriorityClass urgent is not in the manifests");
        assert_eq!(f.hint, "the classes: high, normal, system-cluster-critical, system-node-critical");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].1.contains("preemptionPolicy Never"));
    }

    #[test]
    fn two_defaults_or_two_of_a_name_are_errors() {
        let twice = format!("{CLASSES}---\n{}", CLASSES.split("---\n").nth(1).unwrap());
        let e = read(&parse_str("pc.yaml", &twice).unwrap(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("a second PriorityClass is called normal"), "{e}");
        let two = CLASSES.replace("preemptionPolicy: Never", "globalDefault: true");
        let e = read(&parse_str("pc.yaml", &two).unwrap(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("both globalDefault"), "{e}");
    }
}
