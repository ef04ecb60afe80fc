# Admission: may this workload run at all?
#
# Input: {"review": {"object": <workload>}, "team": {"name", "gpus_in_use", "gpus_requested"}}
# (docs/policies.md). Configuration comes from data.config (data.json).
package twin.admission

# Images only from an allowed registry.
violation contains {"msg": msg, "details": {"rule": "allowed-registry"}} if {
	image := input.review.object.image
	image != ""
	not from_allowed_registry(image)
	msg := sprintf("image %s is not from an allowed registry (%s)", [image, concat(", ", data.config.allowed_registries)])
}

# A model may not be served outside its data-residency regions.
violation contains {"msg": msg, "details": {"rule": "data-residency"}} if {
	zone := input.review.object.labels.residency
	allowed := data.config.residency[zone]
	some region in input.review.object.regions
	not region in allowed
	msg := sprintf("%s must stay in %s regions (%s), but may run in %s", [input.review.object.name, zone, concat(", ", allowed), region])
}

# GPUs per team are capped.
violation contains {"msg": msg, "details": {"rule": "team-gpu-quota"}} if {
	cap := data.config.gpu_quota[input.team.name]
	total := input.team.gpus_in_use + input.team.gpus_requested
	total > cap
	msg := sprintf("team %s would hold %d GPUs, over its quota of %d", [input.team.name, total, cap])
}

from_allowed_registry(image) if {
	some prefix in data.config.allowed_registries
	startswith(image, prefix)
}
