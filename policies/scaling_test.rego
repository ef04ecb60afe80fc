package twin.scaling_test

import data.twin.scaling

request(forecast, added) := {"service": {"name": "chat"}, "current_replicas": 4, "desired_replicas": 6, "team": {"name": "assistant", "forecast_monthly_spend": forecast, "added_monthly_spend": added}}

test_scale_up_within_budget_passes if {
	count(scaling.violation) == 0 with input as request(30000, 3000)
}

test_scale_up_over_budget_is_denied if {
	some v in scaling.violation with input as request(34000, 3000)
	v.details.rule == "team-budget"
}

test_teams_without_a_budget_are_not_capped if {
	count(scaling.violation) == 0 with input as {"service": {"name": "x"}, "current_replicas": 1, "desired_replicas": 9, "team": {"name": "platform", "forecast_monthly_spend": 1e9, "added_monthly_spend": 1e9}}
}
