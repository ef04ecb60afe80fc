//! Typed indices of the things a run holds.
//!
//! Each is an index into one of the fabric's tables; ids are never reused
//! within a run, so a record that names one is unambiguous.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into its table.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(
    /// A pool of the fleet.
    PoolId
);
id!(
    /// A node (machine), alive or gone.
    NodeId
);
id!(
    /// An inference service.
    ServiceId
);
id!(
    /// One replica of an inference service.
    ReplicaId
);
id!(
    /// A training job.
    JobId
);
id!(
    /// A slot of the in-flight request table (reused after the request ends).
    RequestId
);
id!(
    /// Anything that is billed: a service or a training job.
    WorkloadId
);
