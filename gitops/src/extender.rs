//! `twin extender` in the cluster: its Namespace, Deployment, Service and
//! ConfigMap (the profile, the placement policies and the prices), and the
//! kube-scheduler configuration that calls it, as `k8s-openapi` objects.

use crate::scheduler_config::{ClientConnection, ExtenderConfig, KubeSchedulerConfiguration, ManagedResource, SchedulerProfile};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, HTTPGetAction, Namespace, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The port `twin extender` listens on.
pub const PORT: i32 = 8888;
/// The name of its Deployment, Service and ConfigMap.
pub const NAME: &str = "twin-extender";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/twin";

/// What the extender runs with.
#[derive(Clone, Debug)]
pub struct ExtenderSetup {
    /// Its namespace.
    pub namespace: String,
    /// The image with the `twin` binary.
    pub image: String,
    /// A built-in profile name, or `None` when `profile_toml` is the profile.
    pub profile_name: Option<String>,
    /// A profile file's text, mounted as `profile.toml`.
    pub profile_toml: Option<String>,
    /// Placement policies (file name → Rego) and their data document.
    pub placement: Vec<(String, String)>,
    /// `data.json` for the placement policies.
    pub placement_data: Option<String>,
    /// Prices per node-hour by instance type, as TOML.
    pub prices_toml: Option<String>,
    /// The weight of its scores in kube-scheduler.
    pub weight: i64,
    /// Run a node-feed sidecar (`kubectl get nodes -o json` every 30 s) and
    /// let kube-scheduler send node names only (`nodeCacheCapable: true`).
    pub node_feed: bool,
    /// The node feed's image: a shell and `kubectl`.
    pub feed_image: String,
    /// The kubeconfig kube-scheduler reads (its configuration's `clientConnection`).
    pub scheduler_kubeconfig: String,
}

/// Where the node feed writes the node list, shared by the two containers.
pub const FEED_DIR: &str = "/feed";

fn labels() -> BTreeMap<String, String> {
    [("app.kubernetes.io/name".to_string(), NAME.to_string()), ("app.kubernetes.io/part-of".to_string(), "twin".to_string())].into()
}

fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), labels: Some(labels()), ..Default::default() }
}

/// The namespace.
pub fn namespace(s: &ExtenderSetup) -> Namespace {
    Namespace { metadata: ObjectMeta { name: Some(s.namespace.clone()), ..Default::default() }, ..Default::default() }
}

/// The ConfigMap mounted at [`CONFIG_DIR`].
pub fn config_map(s: &ExtenderSetup) -> ConfigMap {
    let mut data = BTreeMap::new();
    if let Some(p) = &s.profile_toml {
        data.insert("profile.toml".to_string(), p.clone());
    }
    for (file, text) in &s.placement {
        data.insert(file.clone(), text.clone());
    }
    if let Some(d) = &s.placement_data {
        data.insert("data.json".to_string(), d.clone());
    }
    if let Some(p) = &s.prices_toml {
        data.insert("prices.toml".to_string(), p.clone());
    }
    ConfigMap { metadata: meta(NAME, &s.namespace), data: Some(data), ..Default::default() }
}

/// The container's arguments.
pub fn args(s: &ExtenderSetup) -> Vec<String> {
    let mut a = vec!["extender".to_string(), "--listen".to_string(), format!("0.0.0.0:{PORT}"), "--profile".to_string()];
    a.push(match &s.profile_name {
        Some(n) => n.clone(),
        None => format!("{CONFIG_DIR}/profile.toml"),
    });
    if !s.placement.is_empty() {
        a.extend(["--policies".to_string(), CONFIG_DIR.to_string()]);
    }
    if s.prices_toml.is_some() {
        a.extend(["--prices".to_string(), format!("{CONFIG_DIR}/prices.toml")]);
    }
    if s.node_feed {
        a.extend(["--nodes".to_string(), format!("{FEED_DIR}/nodes.json")]);
    }
    a
}

/// The node feed's ServiceAccount, and the ClusterRole and binding that let it list nodes.
pub fn feed_rbac(s: &ExtenderSetup) -> (ServiceAccount, ClusterRole, ClusterRoleBinding) {
    let name = format!("{NAME}-node-feed");
    let account = ServiceAccount { metadata: meta(&name, &s.namespace), ..Default::default() };
    let role = ClusterRole {
        metadata: ObjectMeta { name: Some(name.clone()), labels: Some(labels()), ..Default::default() },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["nodes".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta { name: Some(name.clone()), labels: Some(labels()), ..Default::default() },
        role_ref: RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: "ClusterRole".into(), name: name.clone() },
        subjects: Some(vec![Subject { kind: "ServiceAccount".into(), name, namespace: Some(s.namespace.clone()), ..Default::default() }]),
    };
    (account, role, binding)
}

/// The sidecar that keeps `/feed/nodes.json` current, written whole and renamed.
fn feed_container(image: &str) -> Container {
    Container {
        name: "node-feed".into(),
        image: Some(image.into()),
        command: Some(vec!["/bin/sh".into(), "-c".into()]),
        args: Some(vec![format!(
            "while true; do kubectl get nodes -o json > {FEED_DIR}/nodes.json.tmp && mv {FEED_DIR}/nodes.json.tmp {FEED_DIR}/nodes.json; sleep 30; done"
        )]),
        resources: Some(ResourceRequirements {
            requests: Some([("cpu".to_string(), Quantity("50m".into())), ("memory".to_string(), Quantity("64Mi".into()))].into()),
            limits: Some([("memory".to_string(), Quantity("256Mi".into()))].into()),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount { name: "feed".into(), mount_path: FEED_DIR.into(), ..Default::default() }]),
        ..Default::default()
    }
}

/// Two replicas: the extender keeps no state that `Nodes` lists do not bring.
pub fn deployment(s: &ExtenderSetup, config_sha256: &str) -> Deployment {
    let probe = |path: &str, delay: i32| Probe {
        http_get: Some(HTTPGetAction { path: Some(path.into()), port: IntOrString::Int(PORT), ..Default::default() }),
        initial_delay_seconds: Some(delay),
        period_seconds: Some(10),
        ..Default::default()
    };
    let mut mounts =
        vec![VolumeMount { name: "config".into(), mount_path: CONFIG_DIR.into(), read_only: Some(true), ..Default::default() }];
    let mut volumes = vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource { name: NAME.into(), ..Default::default() }),
        ..Default::default()
    }];
    if s.node_feed {
        mounts.push(VolumeMount { name: "feed".into(), mount_path: FEED_DIR.into(), read_only: Some(true), ..Default::default() });
        volumes.push(Volume { name: "feed".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() });
    }
    let mut template_meta = ObjectMeta { labels: Some(labels()), ..Default::default() };
    // A new ConfigMap rolls the pods.
    template_meta.annotations = Some(
        [
            ("twin.dev/config-sha256".to_string(), config_sha256.to_string()),
            ("prometheus.io/scrape".to_string(), "true".to_string()),
            ("prometheus.io/port".to_string(), PORT.to_string()),
        ]
        .into(),
    );
    Deployment {
        metadata: meta(NAME, &s.namespace),
        spec: DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector { match_labels: Some(labels()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(PodSpec {
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        ..Default::default()
                    }),
                    containers: vec![Container {
                        name: "extender".into(),
                        image: Some(s.image.clone()),
                        command: Some(vec!["twin".into()]),
                        args: Some(args(s)),
                        ports: Some(vec![ContainerPort { name: Some("http".into()), container_port: PORT, ..Default::default() }]),
                        readiness_probe: Some(probe("/healthz", 1)),
                        liveness_probe: Some(probe("/healthz", 5)),
                        resources: Some(ResourceRequirements {
                            requests: Some(
                                [("cpu".to_string(), Quantity("500m".into())), ("memory".to_string(), Quantity("256Mi".into()))].into(),
                            ),
                            limits: Some([("memory".to_string(), Quantity("1Gi".into()))].into()),
                            ..Default::default()
                        }),
                        security_context: Some(SecurityContext {
                            allow_privilege_escalation: Some(false),
                            read_only_root_filesystem: Some(true),
                            ..Default::default()
                        }),
                        volume_mounts: Some(mounts),
                        ..Default::default()
                    }]
                    .into_iter()
                    .chain(s.node_feed.then(|| feed_container(&s.feed_image)))
                    .collect(),
                    service_account_name: s.node_feed.then(|| format!("{NAME}-node-feed")),
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The Service kube-scheduler calls.
pub fn service(s: &ExtenderSetup) -> Service {
    Service {
        metadata: meta(NAME, &s.namespace),
        spec: Some(ServiceSpec {
            selector: Some(labels()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: PORT,
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The kube-scheduler configuration calling the extender for pods that ask
/// for an accelerator; node names only when the node feed runs. Not ignorable: a placement policy that must hold
/// (critical work off spot) must not be skipped when the extender is down.
pub fn scheduler_config(s: &ExtenderSetup) -> KubeSchedulerConfiguration {
    KubeSchedulerConfiguration {
        api_version: "kubescheduler.config.k8s.io/v1".into(),
        kind: "KubeSchedulerConfiguration".into(),
        client_connection: ClientConnection { kubeconfig: s.scheduler_kubeconfig.clone() },
        profiles: vec![SchedulerProfile { scheduler_name: "default-scheduler".into() }],
        extenders: vec![ExtenderConfig {
            url_prefix: format!("http://{NAME}.{}.svc:{PORT}", s.namespace),
            filter_verb: "filter".into(),
            prioritize_verb: "prioritize".into(),
            weight: s.weight,
            node_cache_capable: s.node_feed,
            http_timeout: "5s".into(),
            managed_resources: twin_manifests::ACCELERATORS
                .iter()
                .map(|(r, _)| ManagedResource { name: r.to_string(), ignored_by_scheduler: false })
                .collect(),
            ignorable: false,
            enable_https: false,
        }],
    }
}

/// The scheduler configuration in a ConfigMap (`config.yaml`), for a
/// kube-scheduler that mounts it.
pub fn scheduler_config_map(s: &ExtenderSetup, config_yaml: String) -> ConfigMap {
    ConfigMap {
        metadata: meta("twin-kube-scheduler-config", &s.namespace),
        data: Some([("config.yaml".to_string(), config_yaml)].into()),
        ..Default::default()
    }
}
