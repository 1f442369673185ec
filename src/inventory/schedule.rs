//! How often a stored schedule runs a query, in both of the eras' formats.
//!
//! Before 7.0.0 `queries.schedule` is text: whole seconds (`"3600"`) or a time of day
//! (`"14:30"`, once a day) (`v6.0.0:redash/models/__init__.py`, `should_schedule_next`). From
//! 7.0.0 it is a JSON object `{"interval": seconds, "time": "HH:MM" | null, "day_of_week": name |
//! null, "until": "YYYY-MM-DD" | null}`; the interval counts in seconds whether or not a time is
//! set, and a schedule whose `until` has passed, or marked `disabled`, does not run
//! (`v10.1.0:redash/models/__init__.py:405-443,651-660`).

use serde_json::Value;

/// Scheduled runs per day of `schedule` as of `as_of` (seconds since the epoch); 0 for no
/// schedule, one that has ended, or one that cannot be read.
pub fn runs_per_day(schedule: Option<&str>, as_of: i64) -> f64 {
    let Some(text) = schedule.map(str::trim).filter(|text| !text.is_empty()) else {
        return 0.0;
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => {
            if object
                .get("disabled")
                .is_some_and(|disabled| disabled.as_bool() == Some(true))
            {
                return 0.0;
            }
            if let Some(until) = object.get("until").and_then(Value::as_str) {
                if crate::plan::parse_instant(until).is_some_and(|end| end <= as_of) {
                    return 0.0;
                }
            }
            let interval = match object.get("interval") {
                Some(Value::Number(number)) => number.as_f64(),
                Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
                _ => None,
            };
            per_day(interval)
        }
        Ok(Value::Null) => 0.0,
        Ok(Value::Number(number)) => per_day(number.as_f64()),
        Ok(Value::String(text)) => legacy(&text),
        _ => legacy(text),
    }
}

fn per_day(interval: Option<f64>) -> f64 {
    match interval {
        Some(seconds) if seconds > 0.0 => 86_400.0 / seconds,
        _ => 0.0,
    }
}

fn legacy(text: &str) -> f64 {
    if text.contains(':') {
        return 1.0;
    }
    per_day(text.trim().parse::<f64>().ok())
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
