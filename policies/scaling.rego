# Scaling: may this service grow?
#
# Input: {"service": <workload>, "current_replicas", "desired_replicas",
# "team": {"name", "spend_to_date", "run_rate_per_hour", "forecast_monthly_spend",
# "added_monthly_spend"}} (docs/policies.md).
package twin.scaling

# A scale-up may not push a team's forecast monthly spend over its budget.
violation contains {"msg": msg, "details": {"rule": "team-budget"}} if {
	budget := data.config.monthly_budget[input.team.name]
	after := input.team.forecast_monthly_spend + input.team.added_monthly_spend
	after > budget
	msg := sprintf("scaling %s from %d to %d replicas would take team %s to %d a month, over its budget of %d", [
		input.service.name, input.current_replicas, input.desired_replicas,
		input.team.name, round(after), budget,
	])
}
