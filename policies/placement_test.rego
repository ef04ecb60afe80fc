package twin.placement_test

import data.twin.placement

test_critical_work_stays_off_spot if {
	some v in placement.violation with input as {"workload": {"name": "payments-llm", "labels": {"critical": "true"}}, "pool": {"name": "h100-spot", "capacity": "spot"}}
	v.details.rule == "critical-not-on-spot"
}

test_critical_work_may_use_on_demand if {
	count(placement.violation) == 0 with input as {"workload": {"name": "payments-llm", "labels": {"critical": "true"}}, "pool": {"name": "h100-od", "capacity": "on-demand"}}
}

test_other_work_may_use_spot if {
	count(placement.violation) == 0 with input as {"workload": {"name": "batch", "labels": {}}, "pool": {"name": "h100-spot", "capacity": "spot"}}
}
