//! The catalogue: accelerators, node types and model architectures as data.
//!
//! Twin ships a built-in catalogue (`catalogue/catalogue.toml`, embedded at
//! build time) with public figures for H100, H200, A100 80GB, L4, TPU v5e,
//! Inferentia2 and a CPU socket, common cloud node types with their list
//! prices, and common LLM architectures. A scenario adds entries, or replaces
//! one of the same name, with tables of the same shape: a new accelerator is
//! a value, never a new type.

mod accelerator;
mod model_arch;
mod node_type;

pub use accelerator::Accelerator;
pub use model_arch::ModelArch;
pub use node_type::NodeType;

use serde::Deserialize;

/// The built-in catalogue, as TOML.
pub const BUILTIN_TOML: &str = include_str!("catalogue/catalogue.toml");

/// Accelerators, node types and model architectures, looked up by name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Accelerator types.
    #[serde(default)]
    pub accelerators: Vec<Accelerator>,
    /// Machine shapes that pools are made of.
    #[serde(default)]
    pub node_types: Vec<NodeType>,
    /// LLM architectures that inference services serve.
    #[serde(default)]
    pub models: Vec<ModelArch>,
}

impl Catalogue {
    /// The catalogue that ships with Twin.
    pub fn builtin() -> Catalogue {
        // The embedded file is part of the build and covered by a unit test.
        toml::from_str(BUILTIN_TOML).expect("the built-in catalogue parses")
    }

    /// This catalogue with `extra` entries added; an entry with the name of an
    /// existing one replaces it.
    pub fn merged(mut self, extra: &Catalogue) -> Catalogue {
        merge(&mut self.accelerators, &extra.accelerators, |a| &a.name);
        merge(&mut self.node_types, &extra.node_types, |n| &n.name);
        merge(&mut self.models, &extra.models, |m| &m.name);
        self
    }

    /// The accelerator called `name` (or one of its aliases), ignoring case.
    pub fn accelerator(&self, name: &str) -> Option<usize> {
        self.accelerators.iter().position(|a| a.name.eq_ignore_ascii_case(name) || a.aliases.iter().any(|x| x.eq_ignore_ascii_case(name)))
    }

    /// The node type called `name`, ignoring case.
    pub fn node_type(&self, name: &str) -> Option<usize> {
        self.node_types.iter().position(|n| n.name.eq_ignore_ascii_case(name))
    }

    /// The model architecture called `name`, ignoring case.
    pub fn model(&self, name: &str) -> Option<usize> {
        self.models.iter().position(|m| m.name.eq_ignore_ascii_case(name))
    }
}

fn merge<T: Clone>(base: &mut Vec<T>, extra: &[T], name: impl Fn(&T) -> &String) {
    for e in extra {
        match base.iter().position(|b| name(b).eq_ignore_ascii_case(name(e))) {
            Some(i) => base[i] = e.clone(),
            None => base.push(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_complete_and_consistent() {
        let c = Catalogue::builtin();
        for name in ["H100", "H200", "A100", "L4", "TPU-v5e", "Inferentia2", "CPU"] {
            assert!(c.accelerator(name).is_some(), "{name} missing");
        }
        assert_eq!(c.accelerator("a100-80gb"), c.accelerator("A100"));
        for n in &c.node_types {
            assert!(c.accelerator(&n.accelerator).is_some(), "{} names an unknown accelerator", n.name);
            assert!(n.list_price_per_hour > 0.0);
        }
        for a in &c.accelerators {
            assert!(a.idle_watts < a.max_watts, "{}", a.name);
        }
        let h100 = &c.accelerators[c.accelerator("H100").unwrap()];
        assert_eq!(h100.bf16_tflops, 989.5);
        assert!(c.model("Llama-3.1-8B").is_some());
    }

    #[test]
    fn merging_replaces_by_name_and_appends_new() {
        let extra: Catalogue = toml::from_str(
            r#"
            [[node_types]]
            name = "p5.48xlarge"
            accelerator = "H100"
            accelerators_per_node = 8
            list_price_per_hour = 40.0
            [[node_types]]
            name = "my-box"
            accelerator = "L4"
            accelerators_per_node = 2
            list_price_per_hour = 1.0
            "#,
        )
        .unwrap();
        let c = Catalogue::builtin().merged(&extra);
        assert_eq!(c.node_types[c.node_type("p5.48xlarge").unwrap()].list_price_per_hour, 40.0);
        assert!(c.node_type("my-box").is_some());
        assert_eq!(c.node_types.len(), Catalogue::builtin().node_types.len() + 1);
    }
}
