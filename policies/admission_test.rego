package twin.admission_test

import data.twin.admission

params := {
	"allowed_registries": ["registry.internal/", "nvcr.io/nvidia/"],
	"residency": {"eu": ["eu-west-1", "eu-central-1", "dc-frankfurt"]},
	"gpu_quota": {"research": 48},
}

deployment(name, team, image, labels, regions, replicas, gpus) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": name, "namespace": team, "labels": object.union(labels, {"team": team})},
	"spec": {
		"replicas": replicas,
		"template": {"spec": {
			"containers": [{"name": name, "image": image, "resources": {"requests": {"nvidia.com/gpu": sprintf("%d", [gpus])}}}],
			"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/region", "operator": "In", "values": regions}]}]}}},
		}},
	},
}

job(name, team, gpus) := {
	"apiVersion": "batch/v1",
	"kind": "Job",
	"metadata": {"name": name, "namespace": team, "labels": {"team": team}},
	"spec": {"parallelism": 1, "template": {"spec": {"containers": [{"name": name, "resources": {"requests": {"nvidia.com/gpu": sprintf("%d", [gpus])}}}]}}},
}

review(obj) := {"review": {"kind": {"group": "apps", "version": "v1", "kind": obj.kind}, "operation": "CREATE", "object": obj}, "parameters": params}

test_images_from_allowed_registries_pass if {
	count(admission.violation) == 0 with input as review(deployment("chat", "assistant", "registry.internal/vllm:0.6", {}, ["us-east-1"], 2, 1))
}

test_images_from_elsewhere_are_denied if {
	some v in admission.violation with input as review(deployment("chat", "assistant", "docker.io/vllm/vllm-openai:latest", {}, ["us-east-1"], 2, 1))
	v.details.rule == "allowed-registry"
}

test_residency_outside_allowed_regions_is_denied if {
	some v in admission.violation with input as review(deployment("m", "assistant", "registry.internal/m", {"residency": "eu"}, ["eu-west-1", "us-east-1"], 1, 1))
	v.details.rule == "data-residency"
	contains(v.msg, "us-east-1")
}

test_residency_inside_allowed_regions_passes if {
	count(admission.violation) == 0 with input as review(deployment("m", "assistant", "registry.internal/m", {"residency": "eu"}, ["eu-west-1"], 1, 1))
}

# Gatekeeper's data.inventory: namespace → apiVersion → kind → name → object.
inventory(objects) := {"namespace": {ns: {gv: {k: {o.metadata.name: o |
	some o in objects
	[o.metadata.namespace, o.apiVersion, o.kind] == [ns, gv, k]
} |
	some k in {o.kind | some o in objects}
} |
	some gv in {o.apiVersion | some o in objects}
} |
	some ns in {o.metadata.namespace | some o in objects}
}}

test_team_quota_counts_what_runs if {
	running := [job("pretrain-a", "research", 32), deployment("eval", "research", "", {}, [], 2, 4)]
	some v in admission.violation with input as review(job("pretrain-b", "research", 16)) with data.inventory as inventory(running)
	v.details.rule == "team-gpu-quota"
	v.msg == "team research would hold 56 GPUs, over its quota of 48"
}

test_team_under_quota_passes if {
	running := [job("pretrain-a", "research", 8)]
	count(admission.violation) == 0 with input as review(job("pretrain-b", "research", 16)) with data.inventory as inventory(running)
}

test_other_teams_do_not_count if {
	running := [job("big", "assistant", 64)]
	count(admission.violation) == 0 with input as review(job("pretrain-b", "research", 16)) with data.inventory as inventory(running)
}

test_an_empty_inventory_is_no_use if {
	count(admission.violation) == 0 with input as review(job("pretrain-b", "research", 16)) with data.inventory as {}
}

test_the_old_copy_of_an_updated_object_is_not_counted if {
	# Updating pretrain-b (16 → 40 GPUs): its old copy in the inventory is not added.
	running := [job("pretrain-b", "research", 16)]
	count(admission.violation) == 0 with input as review(job("pretrain-b", "research", 40)) with data.inventory as inventory(running)
}

test_finished_jobs_are_not_counted if {
	done := object.union(job("pretrain-a", "research", 40), {"status": {"succeeded": 1}})
	count(admission.violation) == 0 with input as review(job("pretrain-b", "research", 16)) with data.inventory as inventory([done])
}
