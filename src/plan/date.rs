//! The day a plan is made, for the change ticket: today in UTC, or `REDASH_UPGRADE_DATE` so that
//! recorded outputs stay stable.

use std::time::{SystemTime, UNIX_EPOCH};

use super::PlanError;

/// The variable that overrides today's date (`YYYY-MM-DD`).
pub const DATE_VARIABLE: &str = "REDASH_UPGRADE_DATE";

/// Today in UTC as `YYYY-MM-DD`, or the date `REDASH_UPGRADE_DATE` gives.
pub fn plan_date() -> Result<String, PlanError> {
    match std::env::var(DATE_VARIABLE) {
        Ok(text) => parse_date(&text).ok_or(PlanError::MalformedDate(text)),
        Err(_) => {
            let seconds = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            Ok(date_of_day((seconds / 86_400) as i64))
        }
    }
}

/// `text` when it is a real calendar date written `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then(|| text.to_owned())
}

/// The civil date of a day counted from 1970-01-01, as `YYYY-MM-DD`.
fn date_of_day(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Year, month and day of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Seconds since the epoch of `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS]Z`.
pub fn parse_instant(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let date = parse_date(date)?;
    let number = |part: &str| part.parse::<i64>().ok();
    let days = days_from_civil(
        number(&date[0..4])?,
        number(&date[5..7])?,
        number(&date[8..10])?,
    );
    let seconds = match time {
        None => 0,
        Some(time) => {
            let parts: Vec<&str> = time.split(':').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|part| part.len() != 2) {
                return None;
            }
            let (hour, minute) = (number(parts[0])?, number(parts[1])?);
            let second = parts.get(2).map_or(Some(0), |part| number(part))?;
            if hour > 23 || minute > 59 || second > 59 {
                return None;
            }
            hour * 3600 + minute * 60 + second
        }
    };
    Some(days * 86_400 + seconds)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since the epoch.
pub fn format_instant(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let rest = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_parse_and_format() {
        assert_eq!(parse_instant("1970-01-02"), Some(86_400));
        assert_eq!(
            parse_instant("2026-11-30T09:30Z"),
            Some(parse_instant("2026-11-30").unwrap() + 34_200)
        );
        assert_eq!(
            format_instant(parse_instant("2024-02-29T23:59:59Z").unwrap()),
            "2024-02-29T23:59:59Z"
        );
        for bad in [
            "2026-13-01",
            "2026-11-30T24:00Z",
            "2026-11-30T09:30",
            "yesterday",
            "2026-11-30T9:30Z",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn days_since_the_epoch_become_civil_dates() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(11_016), "2000-02-29");
        assert_eq!(date_of_day(19_782), "2024-02-29");
        assert_eq!(date_of_day(20_089), "2025-01-01");
    }

    #[test]
    fn only_real_dates_are_accepted() {
        assert_eq!(parse_date("2025-01-31").as_deref(), Some("2025-01-31"));
        assert_eq!(parse_date("2024-02-29").as_deref(), Some("2024-02-29"));
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-1-01",
            "25-01-01",
            "2025/01/01",
            "today",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
