//! Checks of the scheduler, its profiles and the policies.

use super::checker::Checker;
use crate::scenario::error::ErrorKind;
use crate::scenario::locate::FieldPath;
use crate::scenario::spec::{ProfileChoice, ScenarioSpec};
use crate::time::SimDuration;

/// Checks `[scheduler]` and `[policies]`.
pub(super) fn check_scheduler(c: &mut Checker<'_>, spec: &ScenarioSpec) {
    let p = FieldPath::root().key("scheduler");
    let s = &spec.scheduler;
    if s.external.is_some() && s.profile.is_some() {
        c.report(
            ErrorKind::InvalidValue,
            p.key("external"),
            "both an external scheduler and a profile are given",
            Some("an external scheduler replaces Twin's: keep one of `profile` and `external`".into()),
        );
    }
    if let Some(ext) = &s.external {
        if ext.command.is_empty() || ext.command[0].trim().is_empty() {
            c.report(
                ErrorKind::InvalidValue,
                p.key("external").key("command"),
                "the command is empty",
                Some("give the program and its arguments, such as `[\"python3\", \"my_scheduler.py\"]`".into()),
            );
        }
        c.at_least(p.key("external").key("timeout"), "the timeout", ext.timeout, SimDuration::from_millis(1));
    }
    if let Some(choice) = &s.profile {
        check_profile(c, choice, &p.key("profile"), true);
    }
    if let Some(pol) = &spec.policies
        && pol.files.is_empty()
    {
        c.report(
            ErrorKind::InvalidValue,
            FieldPath::root().key("policies").key("files"),
            "no policy files",
            Some("list Rego files or folders, such as `[\"../policies\"]`".into()),
        );
    }
}

/// Checks a profile choice at `path`; `spot_first` allows the fixed rule's name.
pub(super) fn check_profile(c: &mut Checker<'_>, choice: &ProfileChoice, path: &FieldPath, spot_first: bool) {
    let known = || {
        let mut names: Vec<&str> = twin_scheduler::BUILTIN_PROFILES.iter().map(|b| b.0).collect();
        if spot_first {
            names.push(crate::fabric::SPOT_FIRST);
        }
        format!("built-in profiles: {}", names.join(", "))
    };
    match choice {
        ProfileChoice::Builtin(name) => {
            let fixed_rule = spot_first && name == crate::fabric::SPOT_FIRST;
            if !fixed_rule && !twin_scheduler::BUILTIN_PROFILES.iter().any(|b| b.0 == name) {
                c.report(ErrorKind::UnknownReference, path.clone(), format!("no scheduler profile `{name}`"), Some(known()));
            }
        }
        ProfileChoice::Custom(spec) => {
            if spec.plugins.is_empty() {
                c.report(
                    ErrorKind::InvalidValue,
                    path.key("plugins"),
                    "a profile needs plugins",
                    Some("list plugins such as `[{ name = \"resource-fit\" }, { name = \"bin-pack\" }]`".into()),
                );
            }
            for (i, plugin) in spec.plugins.iter().enumerate() {
                let pp = path.key("plugins").index(i);
                if !twin_scheduler::plugins::NAMES.contains(&plugin.name.as_str()) {
                    c.report(
                        ErrorKind::UnknownReference,
                        pp.key("name"),
                        format!("no scheduler plugin `{}`", plugin.name),
                        Some(format!("plugins: {}", twin_scheduler::plugins::NAMES.join(", "))),
                    );
                }
                c.non_negative(pp.key("weight"), "a weight", plugin.weight);
                if plugin.max_band.is_some_and(|b| b > 4) {
                    c.report(ErrorKind::InvalidValue, pp.key("max_band"), "Spot Advisor bands run from 0 to 4", None);
                }
                if plugin.max_band.is_some() && plugin.name != "interruption-aware" {
                    c.report(
                        ErrorKind::InvalidValue,
                        pp.key("max_band"),
                        format!("plugin `{}` takes no `max_band`", plugin.name),
                        Some("`max_band` belongs to `interruption-aware`".into()),
                    );
                }
            }
        }
    }
}
