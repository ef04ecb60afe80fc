//! Enums of names a scenario writes as strings, such as the formats of the
//! files it replays: `named_enum!` keeps each variant's serde name, its
//! `name()`, its `Display` and the list of all variants in one place.

/// Defines a `Copy` enum whose variants are written as the given names.
///
/// The enum gets serde's `Deserialize` and `Serialize` with exactly those
/// names (an unknown name is serde's "unknown variant, expected one of ..."),
/// `name() -> &'static str`, `Display` (the name), `ALL` (every variant, in
/// the order written) and `Default` (the variant marked `#[default]`).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $name:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize)]
        pub enum $ty {
            $(
                $(#[$vmeta])*
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl $ty {
            /// Every variant, in the order the format documents them.
            pub const ALL: &[$ty] = &[$($ty::$variant),+];

            /// The name scenario files write.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::super::{JobTraceFormat, PodTraceFormat, PriceHistoryCapacity, PriceHistoryFormat, RequestTraceFormat, TelemetryFormat};
    use serde::{Deserialize, Serialize};
    use std::fmt::{Debug, Display};

    /// The names of `all`, checking that each reads back as its variant and
    /// serialises as the same text.
    fn names<T: Copy + PartialEq + Debug + Display + Serialize + for<'de> Deserialize<'de>>(all: &[T]) -> Vec<String> {
        #[derive(Deserialize, Serialize)]
        struct Doc<T> {
            v: T,
        }
        for &v in all {
            let text = toml::to_string(&Doc { v }).unwrap();
            assert_eq!(text, format!("v = \"{v}\"\n"));
            assert_eq!(toml::from_str::<Doc<T>>(&text).unwrap().v, v);
        }
        all.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_names_accepted_round_trip() {
        assert_eq!(names(TelemetryFormat::ALL), ["auto", "nvidia-smi", "dmon", "dcgm", "parquet"]);
        assert_eq!(names(RequestTraceFormat::ALL), ["auto", "azure", "mooncake"]);
        assert_eq!(names(PriceHistoryFormat::ALL), ["auto", "gcp-changes", "aws-spot-history", "parquet"]);
        assert_eq!(names(PriceHistoryCapacity::ALL), ["spot", "on-demand"]);
        assert_eq!(names(JobTraceFormat::ALL), ["auto", "openb", "helios", "parquet"]);
        assert_eq!(names(PodTraceFormat::ALL), ["openb"]);
        assert_eq!(TelemetryFormat::ALL.iter().map(|f| f.name()).collect::<Vec<_>>(), names(TelemetryFormat::ALL));
    }

    #[test]
    fn the_defaults_are_auto_and_spot() {
        assert_eq!(TelemetryFormat::default(), TelemetryFormat::Auto);
        assert_eq!(RequestTraceFormat::default(), RequestTraceFormat::Auto);
        assert_eq!(PriceHistoryFormat::default(), PriceHistoryFormat::Auto);
        assert_eq!(JobTraceFormat::default(), JobTraceFormat::Auto);
        assert_eq!(PriceHistoryCapacity::default(), PriceHistoryCapacity::Spot);
        assert_eq!(PodTraceFormat::default(), PodTraceFormat::Openb);
    }
}
