//! `queries.schedule` in both of Redash's formats, and when a schedule runs within a weekly
//! window. Times in schedules are UTC, as the scheduler reads them.
//!
//! Before 7.0.0 the column is a `varchar(10)`: a number of seconds (`"3600"`) or a daily time of
//! day (`"14:30"`). From 7.0.0 it is JSON: `{"interval": N, "time": "HH:MM"|null,
//! "day_of_week": "Monday"|null, "until": "YYYY-MM-DD"|null}`, the interval sometimes a string
//! of digits (the 7.0.0 migration copied legacy values verbatim), `disabled` set by the scheduler
//! on schedules it cannot read (v10.1.0:redash/models/__init__.py:405-449 and 635-677).

use serde_json::Value;

pub const WEEK_MINUTES: i64 = 7 * 24 * 60;

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A readable schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `seconds`, counted from the query's previous run.
    Every { seconds: i64 },
    /// At `minute` of the day (UTC) every `days` days, on `weekday` (0 = Monday) when given.
    At {
        minute: i64,
        days: i64,
        weekday: Option<i64>,
    },
}

/// Reads a schedule as stored; `None` for no schedule, a disabled or expired one (`until`
/// before `as_of_date`, `YYYY-MM-DD`), or one the scheduler cannot read either.
pub fn parse(text: &str, as_of_date: &str) -> Option<Schedule> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if !text.starts_with('{') {
        return legacy(text);
    }
    let Ok(Value::Object(schedule)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    if schedule
        .get("disabled")
        .is_some_and(|value| value.as_bool() == Some(true))
    {
        return None;
    }
    if let Some(until) = schedule.get("until").and_then(Value::as_str) {
        if until <= as_of_date {
            return None;
        }
    }
    let interval = match schedule.get("interval")? {
        Value::Number(number) => number.as_i64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    if interval <= 0 {
        return None;
    }
    let time = match schedule.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(minute_of_day(text)?),
        Some(_) => return None,
    };
    let weekday = match schedule.get("day_of_week") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(DAY_NAMES.iter().position(|day| day == name)? as i64),
        Some(_) => return None,
    };
    Some(match time {
        None => Schedule::Every { seconds: interval },
        Some(minute) => Schedule::At {
            minute,
            days: (interval / 86_400).max(1),
            weekday,
        },
    })
}

fn legacy(text: &str) -> Option<Schedule> {
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        let seconds: i64 = text.parse().ok()?;
        return (seconds > 0).then_some(Schedule::Every { seconds });
    }
    Some(Schedule::At {
        minute: minute_of_day(text)?,
        days: 1,
        weekday: None,
    })
}

fn minute_of_day(text: &str) -> Option<i64> {
    let (hour, minute) = text.split_once(':')?;
    let (hour, minute): (i64, i64) = (hour.trim().parse().ok()?, minute.trim().parse().ok()?);
    ((0..24).contains(&hour) && (0..60).contains(&minute)).then_some(hour * 60 + minute)
}

impl Schedule {
    /// Runs per day on average (a weekly schedule runs 1/7 a day).
    pub fn runs_per_day(&self) -> f64 {
        match self {
            Schedule::Every { seconds } => 86_400.0 / *seconds as f64,
            Schedule::At { days, .. } => 1.0 / *days as f64,
        }
    }

    /// How many runs fall, on average per week, in the local window of `length_minutes` that
    /// starts `start_minute` after Monday 00:00 local; `utc_offset_minutes` is local minus UTC.
    pub fn runs_per_week_in(
        &self,
        start_minute: i64,
        length_minutes: i64,
        utc_offset_minutes: i64,
    ) -> f64 {
        match *self {
            Schedule::Every { seconds } => (length_minutes * 60) as f64 / seconds as f64,
            Schedule::At {
                minute,
                days,
                weekday,
            } => {
                let inside = |utc_minute_of_week: i64| {
                    let local = utc_minute_of_week + utc_offset_minutes;
                    (local - start_minute).rem_euclid(WEEK_MINUTES) < length_minutes
                };
                match weekday {
                    Some(day) => {
                        let weeks = (days as f64 / 7.0).max(1.0);
                        f64::from(u8::from(inside(day * 1440 + minute))) / weeks
                    }
                    None => {
                        let hits = (0..7).filter(|day| inside(day * 1440 + minute)).count();
                        hits as f64 / days as f64
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_are_read_as_the_scheduler_reads_them() {
        assert_eq!(
            parse("3600", "2026-01-01"),
            Some(Schedule::Every { seconds: 3600 })
        );
        assert_eq!(
            parse("14:30", "2026-01-01"),
            Some(Schedule::At {
                minute: 870,
                days: 1,
                weekday: None
            })
        );
        assert_eq!(
            parse(
                r#"{"interval": "300", "time": null, "day_of_week": null, "until": null}"#,
                "2026-01-01"
            ),
            Some(Schedule::Every { seconds: 300 })
        );
        assert_eq!(
            parse(
                r#"{"interval": 604800, "time": "08:00", "day_of_week": "Monday", "until": null}"#,
                "2026-01-01"
            ),
            Some(Schedule::At {
                minute: 480,
                days: 7,
                weekday: Some(0)
            })
        );
        let until = r#"{"interval": 60, "time": null, "day_of_week": null, "until": "2025-06-01"}"#;
        assert_eq!(parse(until, "2026-01-01"), None);
        assert_eq!(parse("null", "2026-01-01"), None);
        assert_eq!(parse(r#"{"interval": "1d"}"#, "2026-01-01"), None);
    }

    #[test]
    fn runs_are_placed_in_local_time() {
        // Daily at 16:30 UTC is 01:30 in Tokyo (UTC+9): inside a window starting Sunday 01:00.
        let daily = Schedule::At {
            minute: 990,
            days: 1,
            weekday: None,
        };
        let sunday_one = 6 * 1440 + 60;
        assert_eq!(daily.runs_per_week_in(sunday_one, 120, 540), 1.0);
        assert_eq!(daily.runs_per_week_in(sunday_one, 120, 0), 0.0);
        let hourly = Schedule::Every { seconds: 3600 };
        assert_eq!(hourly.runs_per_week_in(0, 120, 0), 2.0);
    }
}
