//! How often a stored schedule runs a query, in both of the eras' formats.

/// Scheduled runs per day of `schedule` as of `as_of` (seconds since the epoch); 0 for no
/// schedule, one that has ended, or one the scheduler cannot read either. The formats are read
/// by [`crate::window::schedule::parse`], which `window` shares.
pub fn runs_per_day(schedule: Option<&str>, as_of: i64) -> f64 {
    let as_of_date = &crate::plan::format_instant(as_of)[..10];
    schedule
        .and_then(|text| crate::window::schedule::parse(text, as_of_date))
        .map_or(0.0, |schedule| schedule.runs_per_day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_eras_formats_give_runs_per_day() {
        let now = crate::plan::parse_instant("2026-11-30").unwrap();
        assert_eq!(runs_per_day(None, now), 0.0);
        assert_eq!(runs_per_day(Some("3600"), now), 24.0);
        assert_eq!(runs_per_day(Some("14:30"), now), 1.0);
        assert_eq!(
            runs_per_day(
                Some(r#"{"interval": 600, "time": null, "day_of_week": null, "until": null}"#),
                now
            ),
            144.0
        );
        assert_eq!(
            runs_per_day(Some(r#"{"interval": "86400", "time": "02:00"}"#), now),
            1.0
        );
        assert!(
            (runs_per_day(
                Some(r#"{"interval": 604800, "time": "02:00", "day_of_week": "Monday"}"#),
                now
            ) - 1.0 / 7.0)
                .abs()
                < 1e-9
        );
        assert_eq!(
            runs_per_day(Some(r#"{"interval": 3600, "until": "2026-01-01"}"#), now),
            0.0
        );
        assert_eq!(
            runs_per_day(Some(r#"{"interval": 3600, "until": "2027-01-01"}"#), now),
            24.0
        );
        assert_eq!(
            runs_per_day(Some(r#"{"interval": 3600, "disabled": true}"#), now),
            0.0
        );
        assert_eq!(runs_per_day(Some("null"), now), 0.0);
        assert_eq!(runs_per_day(Some("every hour"), now), 0.0);
    }
}
