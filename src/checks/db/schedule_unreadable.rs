//! `schedule-unreadable`: JSON schedules whose interval or time the scheduler cannot read.

use serde_json::Value;

use super::super::{
    CannotRun, CheckMeta, DatabaseCheck, Effect, HopContext, Report, Severity, Trigger,
};
use super::{name_rows, LiveDatabase};

pub struct ScheduleUnreadable;

static META: CheckMeta = CheckMeta {
    code: "schedule-unreadable",
    severity: Severity::Warning,
    trigger: Trigger::EveryHop,
    effect: Some(Effect::Misbehaves),
    summary: "JSON schedules whose interval or time the target's scheduler cannot read",
    what: "Once `queries.schedule` is a JSON object (7.0.0 and later), reads every schedule and \
           lists the queries whose `interval` is not a whole number (a string such as \"1d\" or \
           \"\", a fraction, anything but a number or a string of digits) or whose `time` is not \
           a valid HH:MM. 7.0.0 and 8.0.0 copied legacy schedules into this shape verbatim, so \
           databases that went through them can hold such values.",
    why: "7.x and 8.x compute every schedule in one loop without a guard: one unreadable \
          schedule makes each scheduler run fail, and no scheduled query runs at all (an error \
          on hops to those releases, as the known bug schedule-interval-migrated-as-string \
          says). From 9.0.0-beta the scheduler disables that one query's schedule silently, and \
          the queries list sorted by schedule fails with a cast error for everyone.",
    fix: "Set those schedules to a whole number of seconds and a valid time, or to NULL (no \
          refresh), before the hop: re-save them in the schedule dialog, or UPDATE queries.",
    references: &[
        "v7.0.0:redash/models/__init__.py:550-583",
        "v10.1.0:redash/models/__init__.py:650-677",
        "v10.1.0:redash/models/types.py:115-126",
    ],
};

/// The known bug of targets on which one unreadable schedule stops every schedule.
const STOPS_EVERY_SCHEDULE: &str = "schedule-interval-migrated-as-string";

#[async_trait::async_trait]
impl DatabaseCheck for ScheduleUnreadable {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    fn applies(&self, _hop: &HopContext<'_>, database: &LiveDatabase) -> bool {
        database
            .column_type("queries", "schedule")
            .is_some_and(|sql_type| !sql_type.starts_with("character varying"))
    }
    async fn run(
        &self,
        hop: &HopContext<'_>,
        database: &LiveDatabase,
    ) -> Result<Vec<Report>, CannotRun> {
        let ids = database
            .ids_where(
                "read schedules",
                "SELECT id::bigint, schedule::text FROM queries WHERE schedule IS NOT NULL",
                "queries",
                unreadable_schedule,
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        database.note_rows(META.code, "queries", &ids);
        let target = &hop.plan.to.version;
        let stops_all = hop
            .plan
            .known_bugs
            .iter()
            .any(|bug| bug.id == STOPS_EVERY_SCHEDULE);
        let (severity, effect) = if stops_all {
            (
                Severity::Error,
                format!("on {target} no scheduled query runs at all while one is left"),
            )
        } else {
            (
                Severity::Warning,
                format!("{target} disables their schedules silently, and sorting the queries list by schedule fails"),
            )
        };
        Ok(vec![Report {
            severity: Some(severity),
            effect: None,
            message: format!(
                "schedules whose interval is not a whole number or whose time is not a valid HH:MM ({effect}): {}",
                name_rows(&ids, ids.len())
            ),
            location: None,
            help: "Give those queries a schedule of whole seconds and a valid time, or none, before the hop.".into(),
        }])
    }
}

/// Whether `text` is an integer as Python's `int()` reads a string: blanks around, a sign.
fn python_int(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    trimmed.parse().ok()
}

fn interval_readable(interval: Option<&Value>) -> bool {
    match interval {
        None | Some(Value::Null) => true,
        Some(Value::Number(number)) => number.is_i64() || number.is_u64(),
        Some(Value::String(text)) => python_int(text).is_some(),
        Some(_) => false,
    }
}

fn time_readable(time: Option<&Value>) -> bool {
    match time {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => {
            let mut parts = text.split(':');
            let (Some(hour), Some(minute), None) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            matches!(
                (python_int(hour), python_int(minute)),
                (Some(0..=23), Some(0..=59))
            )
        }
        Some(_) => false,
    }
}

/// Whether a schedule (JSON text) is an object whose interval or time the scheduler cannot read.
fn unreadable_schedule(text: &[u8]) -> bool {
    let Ok(Value::Object(schedule)) = serde_json::from_slice::<Value>(text) else {
        return false;
    };
    !interval_readable(schedule.get("interval")) || !time_readable(schedule.get("time"))
}

#[cfg(test)]
mod tests {
    use super::{interval_readable, time_readable};
    use serde_json::json;

    #[test]
    fn intervals_and_times_are_read_as_the_scheduler_reads_them() {
        for fine in [json!(3600), json!("3600"), json!(" 300 "), json!(null)] {
            assert!(interval_readable(Some(&fine)), "{fine}");
        }
        for bad in [
            json!("1d"),
            json!(""),
            json!(3600.5),
            json!([]),
            json!(true),
        ] {
            assert!(!interval_readable(Some(&bad)), "{bad}");
        }
        for fine in [json!("14:30"), json!("9:5"), json!("00:00"), json!(null)] {
            assert!(time_readable(Some(&fine)), "{fine}");
        }
        for bad in [
            json!("25:00"),
            json!("9:75"),
            json!("1:2:3"),
            json!("noon"),
            json!(1430),
        ] {
            assert!(!time_readable(Some(&bad)), "{bad}");
        }
    }
}
