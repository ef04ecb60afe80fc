//! From a scenario to the sweep model's parameters: which service, its pools,
//! its load, its replicas' speed (from the same roofline step model the
//! event engine uses) and its markets, converted to per-step chances.

use crate::SweepError;
use crate::model::PointParams;
use twin_sim::market::Interruptions;
use twin_sim::scenario::Scenario;
use twin_sim::scenario::spec::{ArrivalSpec, CapacityType, PoolSpec, PriceSpec, ScaleMetric, ServiceSpec, ServiceTimeSpec};
use twin_sim::time::SimDuration;
use twin_sim::workload::{StepModel, TokenDist};

/// The sweep's starting point: one service of a scenario as the model sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// The scenario's name.
    pub scenario: String,
    /// The service swept.
    pub service: String,
    /// Its SLO attainment target.
    pub slo_target: f64,
    /// The spot pool, if the service may use one.
    pub spot_pool: Option<String>,
    /// The on-demand (or committed) pool that takes the rest.
    pub fallback_pool: String,
    /// Billing currency.
    pub currency: String,
    /// The parameters every point starts from.
    pub params: PointParams,
    /// What the scenario has that the sweep does not model (other services,
    /// training, pools the service does not use, policies), as a user reads
    /// it; empty when the sweep covers the whole scenario.
    pub left_out: Vec<String>,
}

/// Per-step chance of waiting on through a step, for a wait of mean `mean` (0: none).
fn stays(dt_s: f64, mean: SimDuration) -> f32 {
    let m = mean.as_secs_f64();
    if m <= 0.0 { 0.0 } else { (-dt_s / m).exp() as f32 }
}

/// Per-step chance of an event with mean time `mean` between them.
fn chance(dt_s: f64, mean: SimDuration) -> f32 {
    let m = mean.as_secs_f64();
    if m <= 0.0 { 1.0 } else { (1.0 - (-dt_s / m).exp()) as f32 }
}

impl Baseline {
    /// The model of `service` (default: the first the model can run) of
    /// `scenario`, stepped every `step`.
    pub fn from_scenario(scenario: &Scenario, service: Option<&str>, step: SimDuration) -> Result<Baseline, SweepError> {
        let spec = &scenario.spec;
        let svc: &ServiceSpec = match service {
            Some(name) => spec.services.iter().find(|s| s.name == name).ok_or_else(|| SweepError::NoService {
                name: name.to_string(),
                known: spec.services.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join(", "),
            })?,
            None => {
                spec.services.first().ok_or_else(|| SweepError::Unsupported("the scenario has no inference service to sweep".into()))?
            }
        };
        if step.is_zero() || step > spec.horizon.get() {
            return Err(SweepError::Unsupported(format!("a step of {step} does not fit the horizon of {}", spec.horizon.get())));
        }
        let dt_s = step.as_secs_f64();
        let steps = (spec.horizon.get().as_nanos() / step.as_nanos()).min(u64::from(u32::MAX)) as u32;
        let cat = &scenario.catalogue;
        let pool = |name: &String| spec.pools.iter().find(|p| &p.name == name);
        // At most one pool of each kind: spot, committed (reserved or on-prem), on-demand.
        let of_kind =
            |kind: fn(CapacityType) -> bool| -> Vec<&PoolSpec> { svc.pools.iter().filter_map(pool).filter(|p| kind(p.capacity)).collect() };
        let kinds: [(&str, Vec<&PoolSpec>); 3] = [
            ("spot", of_kind(|c| c == CapacityType::Spot)),
            ("committed (reserved or on-prem)", of_kind(CapacityType::is_committed)),
            ("on-demand", of_kind(|c| c == CapacityType::OnDemand)),
        ];
        for (kind, list) in &kinds {
            if list.len() > 1 {
                return Err(SweepError::Unsupported(format!(
                    "service `{}` spreads over {kind} pools {}; the sweep models at most one spot, one committed and one \
                     on-demand pool (list only those in the service's `pools` to sweep that choice)",
                    svc.name,
                    list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let [spot, commit, od] = kinds.map(|(_, list)| list.first().copied());
        if let (Some(c), Some(o)) = (commit, od)
            && c.node_type != o.node_type
        {
            return Err(SweepError::Unsupported(format!(
                "service `{}` spreads over pools of different node types ({} on {}, {} on {}); the sweep models one",
                svc.name, c.name, c.node_type, o.name, o.node_type
            )));
        }
        // The pool that takes what spot does not: on-demand, else committed, else the spot pool itself.
        let fallback = od
            .or(commit)
            .or(spot)
            .ok_or_else(|| SweepError::Unsupported(format!("service `{}` has no pool the sweep can model", svc.name)))?;
        let node_type = |p: &twin_sim::scenario::spec::PoolSpec| {
            cat.node_type(&p.node_type)
                .map(|i| cat.node_types[i].clone())
                .ok_or_else(|| SweepError::Unsupported(format!("node type `{}`", p.node_type)))
        };
        let nt = node_type(fallback)?;
        let accel = cat
            .accelerator(&nt.accelerator)
            .map(|i| cat.accelerators[i].clone())
            .ok_or_else(|| SweepError::Unsupported(format!("accelerator `{}`", nt.accelerator)))?;
        let (Some(model_name), Some(slo)) = (&svc.model, &svc.slo) else {
            return Err(SweepError::Unsupported(format!(
                "service `{}` serves no requests (`arrivals = \"none\"`); the sweep models a served service",
                svc.name
            )));
        };
        let model =
            cat.model(model_name).map(|i| cat.models[i].clone()).ok_or_else(|| SweepError::Unsupported(format!("model `{model_name}`")))?;
        if !matches!(svc.service_time, ServiceTimeSpec::Roofline) {
            return Err(SweepError::Unsupported(format!(
                "service `{}` uses sampled service times; the sweep models the roofline step model only",
                svc.name
            )));
        }

        // Load.
        let (rate_calm, rate_burst, p_to_burst, p_to_calm, amp, peak) = match &svc.arrivals {
            ArrivalSpec::Poisson { rate } => (*rate, *rate, 0.0, 0.0, 0.0, 0.0),
            ArrivalSpec::Mmpp { rates, mean_durations } => {
                (rates[0], rates[1], chance(dt_s, mean_durations[0].get()), chance(dt_s, mean_durations[1].get()), 0.0, 0.0)
            }
            ArrivalSpec::Diurnal { mean_rate, amplitude, peak } => (*mean_rate, *mean_rate, 0.0, 0.0, *amplitude, peak.get().as_secs_f64()),
            other => {
                let kind = match other {
                    ArrivalSpec::Trace(_) => "a replayed trace",
                    ArrivalSpec::Piecewise { .. } => "a piecewise rate table",
                    _ => "a Hawkes process",
                };
                return Err(SweepError::Unsupported(format!(
                    "service `{}` arrives as {kind}; the sweep models Poisson, MMPP and diurnal arrivals (fit one with `twin trace fit`)",
                    svc.name
                )));
            }
        };

        // Speed of one replica, from the roofline step model.
        let prompt = svc.prompt_tokens.as_ref().map_or(512.0, |t| TokenDist::new(t).mean());
        let output = svc.output_tokens.as_ref().map_or(128.0, |t| TokenDist::new(t).mean());
        let steps_model = StepModel::new(&model, &accel, svc.gpus_per_replica, &svc.calibration);
        let kv_batch = (steps_model.kv_capacity_tokens() as f64 / (prompt + output)).floor().max(1.0);
        let slots = f64::from(svc.max_batch).min(kv_batch).max(1.0);
        let prefill = steps_model.step(prompt, prompt * prompt / 2.0, 0, 0.0).duration.as_secs_f64();
        let decode_at = |b: f64| steps_model.decode(b as u32, b * (prompt + output / 2.0)).duration.as_secs_f64();
        let mu = 1.0 / (output * decode_at(slots) / slots + prefill);
        let typical =
            svc.autoscaler.as_ref().filter(|a| a.metric == ScaleMetric::Concurrency).map_or(slots / 2.0, |a| a.target.clamp(1.0, slots));
        let e2e = prefill + output * decode_at(typical);
        let ttft_budget = slo.ttft.get().as_secs_f64() - prefill - decode_at(typical);

        // A replica loads its model before it serves, as in the event model.
        let cold_start = svc.cold_start_for(Some(&model));

        // Replicas.
        let (min, max, target) = match &svc.autoscaler {
            Some(a) if a.metric == ScaleMetric::Concurrency => (f64::from(a.min), f64::from(a.max), a.target),
            // Other metrics are approximated by concurrency at the typical batch.
            Some(a) => (f64::from(a.min), f64::from(a.max), typical),
            None => (f64::from(svc.replicas), f64::from(svc.replicas), 0.0),
        };
        let per_node = f64::from((nt.accelerators_per_node / svc.gpus_per_replica.max(1)).max(1));

        // Markets.
        let fixed_price = |p: &PoolSpec| match &p.price {
            Some(PriceSpec::Fixed(v)) => *v,
            _ => p.capex.as_ref().map_or(nt.list_price_per_hour, |c| c.price_per_node_hour()),
        };
        // Without an on-demand pool, savings are against the on-demand list price.
        let od_price = match (od, commit) {
            (None, Some(_)) => nt.list_price_per_hour,
            _ => fixed_price(fallback),
        };
        // Committed nodes: a committed pool's, or an on-demand pool's minimum.
        let (committed_nodes, committed_price, od_max) = match (commit, od) {
            (Some(c), Some(o)) => (c.max_node_count(), fixed_price(c), o.max_node_count()),
            (Some(c), None) => (c.max_node_count(), fixed_price(c), 0),
            (None, _) => (fallback.min_node_count(), od_price, fallback.max_node_count().saturating_sub(fallback.min_node_count())),
        };
        let dt_h = dt_s / 3_600.0;
        let scale_every = svc.autoscaler.as_ref().map_or(1.0, |a| (a.interval.get().as_secs_f64() / dt_s).round().max(1.0));
        let mut p = PointParams {
            steps,
            dt_s: dt_s as f32,
            rate_calm: rate_calm as f32,
            rate_burst: rate_burst as f32,
            p_to_burst,
            p_to_calm,
            diurnal_amp: amp as f32,
            diurnal_peak_s: peak as f32,
            mu: mu as f32,
            e2e_s: e2e as f32,
            e2e_full_s: (prefill + output * decode_at(slots)) as f32,
            scale_every: scale_every as f32,
            ttft_budget_s: ttft_budget as f32,
            timeout_s: svc.queue_timeout.map_or(3_600.0, |d| d.get().as_secs_f64()) as f32,
            replicas_min: min as f32,
            replicas_max: max as f32,
            target_concurrency: target as f32,
            spot_share: 0.0,
            replicas_per_node: per_node as f32,
            od_price: od_price as f32,
            list_price: fallback.list_price_per_hour.unwrap_or(nt.list_price_per_hour) as f32,
            p_ready: chance(dt_s, fallback.provisioning()),
            p_spot_pending: stays(dt_s, spot.map_or(SimDuration::ZERO, |s| s.provisioning())),
            p_cold: stays(dt_s, cold_start),
            p_keep: stays(dt_s, fallback.scale_down()),
            // The autoscaler draws whether to hold once a look, so the chance is per interval.
            p_hold: stays(dt_s * scale_every, svc.autoscaler.as_ref().map_or(SimDuration::ZERO, |a| a.scale_down_window.get())),
            slots: slots as f32,
            od_max_nodes: od_max as f32,
            committed_nodes: committed_nodes as f32,
            committed_price: committed_price as f32,
            spot_cap: f32::MAX,
            ..PointParams::default()
        };
        if let Some(sp) = spot {
            p.spot_share = 1.0;
            p.spot_max_nodes = sp.max_node_count() as f32;
            let (mean, revert, vol, floor, cap, jump_p, jump_size) = match &sp.price {
                Some(PriceSpec::Fixed(v)) => (*v, 0.0, 0.0, *v, *v, 0.0, 0.0),
                Some(PriceSpec::MeanReverting(m)) => (
                    m.mean,
                    1.0 - (-m.reversion_per_hour * dt_h).exp(),
                    m.volatility * m.mean * dt_h.sqrt(),
                    m.floor_price(),
                    m.cap.unwrap_or(f64::from(f32::MAX)),
                    m.jumps_per_day * dt_s / 86_400.0,
                    m.jump_size,
                ),
                Some(PriceSpec::Table(t)) => {
                    let mean = table_mean(
                        &t.points.iter().map(|x| (x.at.get().as_secs_f64(), x.price)).collect::<Vec<_>>(),
                        spec.horizon.get().as_secs_f64(),
                    );
                    (mean, 0.0, 0.0, mean, mean, 0.0, 0.0)
                }
                Some(PriceSpec::History(_)) => match scenario.price_histories.get(&sp.name) {
                    Some(t) => {
                        let mean = table_mean(
                            &t.points.iter().map(|x| (x.at.get().as_secs_f64(), x.price)).collect::<Vec<_>>(),
                            spec.horizon.get().as_secs_f64(),
                        );
                        (mean, 0.0, 0.0, mean, mean, 0.0, 0.0)
                    }
                    None => return Err(SweepError::Unsupported(format!("pool `{}` replays a price history that was not loaded", sp.name))),
                },
                None => (nt.list_price_per_hour, 0.0, 0.0, nt.list_price_per_hour, nt.list_price_per_hour, 0.0, 0.0),
            };
            p.spot_mean = mean as f32;
            p.spot_revert = revert as f32;
            p.spot_vol = vol as f32;
            p.spot_floor = floor as f32;
            p.spot_cap = cap.min(f64::from(f32::MAX)) as f32;
            p.jump_p = jump_p as f32;
            p.jump_size = jump_size as f32;
            if let Some(i) = &sp.interruption {
                if i.advisor.is_some() && !scenario.advisor_bands.contains_key(&sp.name) {
                    return Err(SweepError::Unsupported(format!(
                        "pool `{}` takes its band from Spot Advisor data that was not loaded",
                        sp.name
                    )));
                }
                let spec_i = match scenario.advisor_bands.get(&sp.name) {
                    Some(b) => twin_sim::scenario::spec::InterruptionSpec { band: Some(b.clone()), advisor: None, ..i.clone() },
                    None => i.clone(),
                };
                let h = Interruptions::from_spec(&spec_i).rate_per_hour;
                p.p_interrupt = (1.0 - (-h * dt_h).exp()) as f32;
            }
            if let Some(s) = &sp.stockouts {
                p.p_stockout = chance(dt_s, s.mean_available.get());
                p.p_restock = chance(dt_s, s.mean_duration.get());
            }
        } else {
            p.spot_mean = od_price as f32;
            p.spot_floor = od_price as f32;
            p.spot_cap = od_price as f32;
        }
        let mut left_out = Vec::new();
        let others: Vec<&str> = spec.services.iter().filter(|s| s.name != svc.name).map(|s| s.name.as_str()).collect();
        if !others.is_empty() {
            left_out.push(format!("service(s) {}", others.join(", ")));
        }
        let jobs = spec.training.len() + spec.training_streams.len() + spec.job_traces.len();
        if jobs > 0 || spec.pod_trace.is_some() {
            left_out.push("training and batch jobs".to_string());
        }
        let unused: Vec<&str> = spec.pools.iter().filter(|p| !svc.pools.contains(&p.name)).map(|p| p.name.as_str()).collect();
        if !unused.is_empty() {
            left_out.push(format!("pool(s) {}", unused.join(", ")));
        }
        if spec.policies.is_some() {
            left_out.push("policies".to_string());
        }
        Ok(Baseline {
            left_out,
            scenario: spec.name.clone(),
            service: svc.name.clone(),
            slo_target: slo.target,
            spot_pool: spot.map(|s| s.name.clone()),
            fallback_pool: fallback.name.clone(),
            currency: spec.billing.currency.clone(),
            params: p,
        })
    }
}

/// Time-weighted mean of a piecewise-constant table over `[0, horizon)`.
fn table_mean(points: &[(f64, f64)], horizon: f64) -> f64 {
    let mut sum = 0.0;
    for (i, &(at, price)) in points.iter().enumerate() {
        if at >= horizon {
            break;
        }
        let end = points.get(i + 1).map_or(horizon, |n| n.0.min(horizon));
        sum += price * (end - at);
    }
    if horizon > 0.0 { sum / horizon } else { points.first().map_or(0.0, |p| p.1) }
}
