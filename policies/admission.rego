# Admission: may this workload run at all?
#
# Written against the Kubernetes object as OPA Gatekeeper presents it, so the
# same file runs in the twin and, through `twin promote`, in the cluster as a
# ConstraintTemplate (docs/policies.md):
#   input.review.object   the Deployment or Job being created
#   input.parameters      the Constraint's parameters (in the twin: data.json's "config")
#   data.inventory        the workloads already running (Gatekeeper's synced objects)
package twin.admission

# Images only from an allowed registry.
violation contains {"msg": msg, "details": {"rule": "allowed-registry"}} if {
	some container in input.review.object.spec.template.spec.containers
	image := object.get(container, "image", "")
	image != ""
	not from_allowed_registry(image)
	msg := sprintf("image %s is not from an allowed registry (%s)", [image, concat(", ", input.parameters.allowed_registries)])
}

# A model may not be served outside its data-residency regions: every region
# its pods may be scheduled in must be allowed.
violation contains {"msg": msg, "details": {"rule": "data-residency"}} if {
	zone := input.review.object.metadata.labels.residency
	allowed := input.parameters.residency[zone]
	some region in pinned_regions(input.review.object)
	not region in allowed
	msg := sprintf("%s must stay in %s regions (%s), but may run in %s", [input.review.object.metadata.name, zone, concat(", ", allowed), region])
}

# GPUs per team are capped: what the team's running workloads request, plus this one.
violation contains {"msg": msg, "details": {"rule": "team-gpu-quota"}} if {
	team := team_of(input.review.object)
	cap := input.parameters.gpu_quota[team]
	in_use := sum([gpus(o) |
		some o in running
		team_of(o) == team
	])
	total := in_use + gpus(input.review.object)
	total > cap
	msg := sprintf("team %s would hold %d GPUs, over its quota of %d", [team, total, cap])
}

from_allowed_registry(image) if {
	some prefix in input.parameters.allowed_registries
	startswith(image, prefix)
}

# The regions a required node affinity pins the pods to.
pinned_regions(obj) := {v |
	some term in obj.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
	some e in term.matchExpressions
	e.key == "topology.kubernetes.io/region"
	e.operator == "In"
	some v in e.values
}

# The team that pays: the `team` label, else the namespace.
team_of(obj) := t if {
	t := obj.metadata.labels.team
} else := obj.metadata.namespace

# Accelerators an object asks for: per pod, times its replicas (Deployment)
# or parallelism (Job).
gpus(obj) := per_pod * pods if {
	per_pod := sum([to_number(object.get(c.resources.requests, "nvidia.com/gpu", "0")) | some c in obj.spec.template.spec.containers])
	pods := object.get(obj.spec, "replicas", object.get(obj.spec, "parallelism", 1))
}

# Every Deployment and Job Gatekeeper has synced, but the object under
# review (an update's old copy; itself, in an audit) and finished Jobs.
running contains o if {
	some kind in ["Deployment", "Job"]
	some o in data.inventory.namespace[_][_][kind]
	not same_object(o, input.review.object)
	not finished(o)
}

same_object(a, b) if {
	a.kind == b.kind
	a.metadata.namespace == b.metadata.namespace
	a.metadata.name == b.metadata.name
}

finished(job) if job.status.succeeded > 0

finished(job) if job.status.failed > 0

finished(job) if {
	some c in job.status.conditions
	c.type in {"Complete", "Failed"}
	c.status == "True"
}
