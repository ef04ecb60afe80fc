//! Random number streams: one named, independently seeded stream per source
//! of randomness.
//!
//! Every stream is a [`SimRng`] (xoshiro256++, from `rand_xoshiro`) seeded from
//! the run seed and the stream's name, so adding a stream (say, a new
//! service's arrivals) never shifts the numbers another stream draws. The
//! seed derivation is FNV-1a over the name, mixed with the run seed through
//! the SplitMix64 finaliser: stable across platforms and releases.

use rand::SeedableRng;

/// The random number generator every stream uses: xoshiro256++.
pub type SimRng = rand_xoshiro::Xoshiro256PlusPlus;

/// Makes the named streams of one run.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    run_seed: u64,
}

impl RngStreams {
    /// Streams for a run with the given seed.
    pub fn new(run_seed: u64) -> Self {
        RngStreams { run_seed }
    }

    /// The seed of the stream called `name` (for example `arrivals/chat`).
    pub fn seed_of(&self, name: &str) -> u64 {
        splitmix64(self.run_seed ^ splitmix64(fnv1a(name.as_bytes())))
    }

    /// A fresh generator for the stream called `name`.
    pub fn stream(&self, name: &str) -> SimRng {
        SimRng::seed_from_u64(self.seed_of(name))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_independent_of_each_other_and_stable() {
        let s = RngStreams::new(7);
        let a1: u64 = s.stream("arrivals/chat").random();
        // Asking for other streams in between changes nothing.
        let _ = s.stream("price/spot");
        let a2: u64 = s.stream("arrivals/chat").random();
        assert_eq!(a1, a2);
        assert_ne!(s.seed_of("arrivals/chat"), s.seed_of("arrivals/code"));
        assert_ne!(RngStreams::new(8).seed_of("arrivals/chat"), s.seed_of("arrivals/chat"));
        // Pinned: a change here silently changes every published result.
        assert_eq!(s.seed_of(""), 5_895_988_142_432_143_865_u64, "seed derivation changed");
    }
}
