//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`): the file
//! kube-scheduler reads with `--config`, and the `extenders` stanza that sends
//! it to `twin extender`. `k8s-openapi` has no component-config types, so the
//! fields Twin writes are typed here, with Kubernetes' names (case-sensitive).

use serde::{Deserialize, Serialize};

/// The scheduler's configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/v1`.
    pub api_version: String,
    /// `KubeSchedulerConfiguration`.
    pub kind: String,
    /// How the scheduler reaches the API server: with `--config`,
    /// kube-scheduler ignores `--kubeconfig`, so the file must say it.
    pub client_connection: ClientConnection,
    /// Profiles: the default scheduler.
    pub profiles: Vec<SchedulerProfile>,
    /// The extenders it calls.
    pub extenders: Vec<ExtenderConfig>,
}

/// `profiles[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerProfile {
    /// `default-scheduler`.
    pub scheduler_name: String,
}

/// `extenders[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtenderConfig {
    /// `http://SERVICE.NAMESPACE.svc:PORT`.
    pub url_prefix: String,
    /// `filter`.
    pub filter_verb: String,
    /// `prioritize`.
    pub prioritize_verb: String,
    /// The weight of its scores (scores × weight × 10 join the scheduler's).
    pub weight: i64,
    /// Whether it keeps its own node cache (`NodeNames` both ways).
    pub node_cache_capable: bool,
    /// `5s`.
    pub http_timeout: String,
    /// Only pods asking for these are sent.
    pub managed_resources: Vec<ManagedResource>,
    /// Whether scheduling goes on without it when it fails.
    pub ignorable: bool,
    /// Plain HTTP inside the cluster.
    #[serde(rename = "enableHTTPS")]
    pub enable_https: bool,
}

/// `managedResources[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedResource {
    /// `nvidia.com/gpu`.
    pub name: String,
    /// Whether kube-scheduler's own fit check skips it.
    pub ignored_by_scheduler: bool,
}

/// `clientConnection`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConnection {
    /// The scheduler's kubeconfig: `/etc/kubernetes/scheduler.conf` on kubeadm control planes.
    pub kubeconfig: String,
}
