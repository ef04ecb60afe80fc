//! Distributions of prompt and output token counts.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A distribution of token counts.
#[derive(Clone, Debug, Serialize)]
pub enum TokenSpec {
    /// Always the same count. Written as a bare integer or `{ fixed = 512 }`.
    Fixed(u32),
    /// Uniform between `min` and `max`, inclusive.
    Uniform {
        /// Smallest count.
        min: u32,
        /// Largest count.
        max: u32,
    },
    /// Log-normal with the given median and log-space standard deviation,
    /// rounded and clamped to `[1, max]`.
    Lognormal {
        /// Median count.
        median: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Largest count. Default 32768.
        max: Option<u32>,
    },
    /// Geometric with the given mean (memoryless lengths).
    Geometric {
        /// Mean count, at least 1.
        mean: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum TokenSpecTagged {
    Fixed(u32),
    Uniform {
        min: u32,
        max: u32,
    },
    Lognormal {
        median: f64,
        sigma: f64,
        #[serde(default)]
        max: Option<u32>,
    },
    Geometric {
        mean: f64,
    },
}

impl<'de> Deserialize<'de> for TokenSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TokenSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token count, or a table with one of `fixed`, `uniform`, `lognormal`, `geometric`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TokenSpec, E> {
                u32::try_from(v)
                    .map(TokenSpec::Fixed)
                    .map_err(|_| E::custom(format!("a token count must be between 0 and {}, not {v}", u32::MAX)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TokenSpec, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<TokenSpec, A::Error> {
                let t = TokenSpecTagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match t {
                    TokenSpecTagged::Fixed(n) => TokenSpec::Fixed(n),
                    TokenSpecTagged::Uniform { min, max } => TokenSpec::Uniform { min, max },
                    TokenSpecTagged::Lognormal { median, sigma, max } => TokenSpec::Lognormal { median, sigma, max },
                    TokenSpecTagged::Geometric { mean } => TokenSpec::Geometric { mean },
                })
            }
        }
        d.deserialize_any(V)
    }
}
