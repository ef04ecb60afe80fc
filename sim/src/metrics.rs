//! What a run measures: latency distributions, per-request and per-job
//! records, time series, and the summary built from them at the end.

mod histogram;
mod records;
mod summary;

pub use histogram::LatencyHistogram;
pub use records::{DecisionRecord, JobRecord, Outcome, PoolInfo, PoolSample, Records, RequestRecords, ServiceSample};
pub use summary::{
    CostSummary, InterruptionSummary, JobsSummary, LatencySummary, PolicyDenial, PoolSummary, RecordedSummary, SchedulingSummary,
    ServiceSummary, Summary,
};
