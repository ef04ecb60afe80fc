//! What can go wrong rendering or committing a promotion.

/// A promotion or rollback that could not be done; nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum GitOpsError {
    /// The inputs cannot be rendered as they stand.
    #[error("{0}")]
    Render(String),
    /// A sharded sweep or suite's Job settings that Kubernetes would refuse
    /// or that could not work; nothing was rendered.
    #[error("{field}: {problem}; fix: {fix}")]
    ShardJob {
        /// The setting at fault (a field of `shard_job::ShardJob`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
        /// What to do instead.
        fix: String,
    },
    /// The repository is not in a state to commit to (dirty, detached, missing branch).
    #[error("{0}")]
    Refused(String),
    /// Writing the files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// git refused an operation.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}
