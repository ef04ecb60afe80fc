//! Price histories (`price = { history = ... }`) and Spot Advisor
//! interruption bands (`interruption = { advisor = ... }`) of pools.

use crate::formats::Reader;
use crate::{InputError, Notes, Source};
use twin_replay::ReadOptions;
use twin_replay::prices::{self, Capacity, Prices};
use twin_replay::timefmt::format_ns;
use twin_sim::scenario::spec::{PriceHistoryCapacity, PricePoint, PriceSpec, PriceTableSpec};
use twin_sim::scenario::{Dur, Scenario};
use twin_sim::time::SimDuration;

/// Reads the price histories the scenario's pools replay and attaches each
/// as the price table it becomes from its start date.
pub fn attach_histories(scenario: &mut Scenario, source: &Source, notes: &mut Notes) -> Result<(), InputError> {
    let histories: Vec<(usize, _)> = scenario
        .spec
        .pools
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.price {
            Some(PriceSpec::History(h)) => Some((i, h.clone())),
            _ => None,
        })
        .collect();
    for (i, h) in histories {
        let pool_spec = &scenario.spec.pools[i];
        let pool = pool_spec.name.clone();
        let field = format!("pools[{i}].price.history.file");
        let named = crate::named_file(scenario, source, "price history", &h.file, &field)?;
        let path = named.path.clone();
        let read_err = |e| named.unreadable(e);
        let history = if let Reader::Text(format) = crate::formats::prices(h.format, &path) {
            let (read, report) = prices::read_file(&path, format, &ReadOptions::default()).map_err(read_err)?;
            if report.skipped > 0 {
                notes.push(format!("{}: {report}", path.display()));
            }
            match read {
                Prices::History(history) => history,
                Prices::Advisor(_) => {
                    return Err(named.unusable(
                        "this is Spot Advisor data (interruption bands), not a price history; name it in `interruption.advisor`",
                    ));
                }
            }
        } else {
            prices::read_parquet(&path).map_err(read_err)?
        };
        let instance = h.instance_type.clone().unwrap_or_else(|| pool_spec.node_type.clone());
        let location =
            h.location.clone().unwrap_or_else(|| if pool_spec.zone.is_empty() { pool_spec.region.clone() } else { pool_spec.zone.clone() });
        let capacity = match h.capacity {
            PriceHistoryCapacity::OnDemand => Capacity::OnDemand,
            PriceHistoryCapacity::Spot => Capacity::Spot,
        };
        let series = history.series(&instance, &location, capacity).map_err(|e| named.unusable(format!("pool `{pool}`: {e}")))?;
        let start = twin_sim::time::parse_date_ns(&h.start)
            .ok_or_else(|| named.unusable(format!("pool `{pool}`: `start` = \"{}\" is not a date (YYYY-MM-DD)", h.start)))?;
        let table = history_table(&series, start, h.speed).ok_or_else(|| {
            let first = series.first().map_or(String::new(), |p| format_ns(p.0));
            named.unusable(format!(
                "pool `{pool}`: no {} price for {instance} in {location} on or before {} (the history starts {first}); set `start` to a later date",
                h.capacity, h.start
            ))
        })?;
        scenario.attach_price_history(
            &pool,
            PriceTableSpec {
                points: table.into_iter().map(|(at, price)| PricePoint { at: Dur(SimDuration(at)), price }).collect(),
                repeat_every: None,
            },
        );
    }
    Ok(())
}

/// Looks up the Spot Advisor band of each pool whose interruptions name advisor data.
pub fn attach_advisor_bands(scenario: &mut Scenario, source: &Source) -> Result<(), InputError> {
    let refs: Vec<(usize, _)> = scenario
        .spec
        .pools
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.interruption.as_ref().and_then(|x| x.advisor.clone()).map(|a| (i, a)))
        .collect();
    for (i, a) in refs {
        let pool_spec = &scenario.spec.pools[i];
        let pool = pool_spec.name.clone();
        let field = format!("pools[{i}].interruption.advisor.file");
        let named = crate::named_file(scenario, source, "Spot Advisor file", &a.file, &field)?;
        let path = named.path.clone();
        let (read, _) = prices::read_file(&path, None, &ReadOptions::default()).map_err(|e| named.unreadable(e))?;
        let Prices::Advisor(entries) = read else {
            return Err(named.unusable("this is a price history, not Spot Advisor data; name it in `price = { history = ... }`"));
        };
        let instance = a.instance_type.clone().unwrap_or_else(|| pool_spec.node_type.clone());
        let region = a.region.clone().unwrap_or_else(|| pool_spec.region.clone());
        let entry = prices::advisor_band(&entries, &region, &instance).ok_or_else(|| {
            let types = prices::close_matches(&instance, entries.iter().map(|e| e.instance_type.as_str()));
            let regions = prices::close_matches(&region, entries.iter().map(|e| e.region.as_str()));
            named.unusable(format!(
                "pool `{pool}`: no Spot Advisor entry for {instance} in {region}{}{}",
                if types.is_empty() { String::new() } else { format!("; instance types like it: {}", types.join(", ")) },
                if regions.is_empty() { String::new() } else { format!("; regions like it: {}", regions.join(", ")) }
            ))
        })?;
        let label = prices::BAND_LABELS.get(entry.band as usize).copied().unwrap_or(">20%");
        scenario.attach_advisor_band(&pool, label);
    }
    Ok(())
}

/// The change points of `series` (Unix ns, price) from `start_ns` on, as
/// (simulated ns, price) with the price holding at the start first; `None`
/// when no price holds at the start.
fn history_table(series: &[(i64, f64)], start_ns: i64, speed: f64) -> Option<Vec<(u64, f64)>> {
    let before = series.iter().rposition(|p| p.0 <= start_ns)?;
    let mut out = vec![(0, series[before].1)];
    for &(t, price) in &series[before + 1..] {
        out.push((((t - start_ns) as f64 / speed).round() as u64, price));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_becomes_a_table_from_its_start_at_its_speed() {
        let series = [(0, 1.0), (100, 2.0), (300, 3.0)];
        assert_eq!(history_table(&series, 150, 1.0), Some(vec![(0, 2.0), (150, 3.0)]));
        assert_eq!(history_table(&series, 100, 2.0), Some(vec![(0, 2.0), (100, 3.0)]));
        assert_eq!(history_table(&series, -1, 1.0), None);
    }
}
