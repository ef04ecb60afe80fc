package twin.admission_test

import data.twin.admission

workload(image, labels, regions) := {"review": {"object": {"name": "chat", "image": image, "labels": labels, "regions": regions}}, "team": {"name": "assistant", "gpus_in_use": 0, "gpus_requested": 8}}

test_images_from_allowed_registries_pass if {
	count(admission.violation) == 0 with input as workload("registry.internal/vllm:0.6", {}, ["us-east-1"])
}

test_images_from_elsewhere_are_denied if {
	some v in admission.violation with input as workload("docker.io/vllm/vllm-openai:latest", {}, ["us-east-1"])
	v.details.rule == "allowed-registry"
}

test_residency_outside_allowed_regions_is_denied if {
	some v in admission.violation with input as workload("registry.internal/m", {"residency": "eu"}, ["eu-west-1", "us-east-1"])
	v.details.rule == "data-residency"
}

test_residency_inside_allowed_regions_passes if {
	count(admission.violation) == 0 with input as workload("registry.internal/m", {"residency": "eu"}, ["eu-west-1"])
}

test_team_quota if {
	some v in admission.violation with input as {"review": {"object": {"name": "big", "image": "", "labels": {}, "regions": []}}, "team": {"name": "research", "gpus_in_use": 40, "gpus_requested": 16}}
	v.details.rule == "team-gpu-quota"
}

test_team_under_quota_passes if {
	count(admission.violation) == 0 with input as {"review": {"object": {"name": "small", "image": "", "labels": {}, "regions": []}}, "team": {"name": "research", "gpus_in_use": 8, "gpus_requested": 16}}
}
