# Placement: may this workload run in this pool?
#
# Input: {"workload": <workload>, "pool": {"name", "capacity", "region", "zone",
# "accelerator", "price_per_gpu_hour", "interruption_per_hour"}} (docs/policies.md).
package twin.placement

# Critical work never runs on spot capacity.
violation contains {"msg": msg, "details": {"rule": "critical-not-on-spot"}} if {
	input.workload.labels.critical == "true"
	input.pool.capacity == "spot"
	msg := sprintf("%s is critical and may not run on spot pool %s", [input.workload.name, input.pool.name])
}
