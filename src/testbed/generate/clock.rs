//! Dates of the data set: a fixed span of use before the release, written as PostgreSQL
//! timestamps. Fixed, because the data must not depend on today.

use crate::knowledge::model::Release;
use crate::plan::{civil_from_days, days_from_civil};
use crate::testbed::copy::Value;
use crate::testbed::rng::Rng;

pub(super) struct Clock {
    pub(super) start: i64,
    span: i64,
}

impl Clock {
    /// Two years of use ending on January 1st of the release's year: a fixed date, because the
    /// data must not depend on today, and a round one, close enough for plausible dates.
    pub(super) fn before(release: &Release) -> Clock {
        let year = release_year(release);
        let end = days_from_civil(year, 1, 1) * 86_400;
        Clock {
            start: end - 2 * 365 * 86_400,
            span: 2 * 365 * 86_400,
        }
    }

    pub(super) fn at(&self, rng: &mut Rng) -> i64 {
        self.start + rng.below(self.span as u64) as i64
    }
}

/// The year of `released_on`, which the knowledge base writes as `YYYY-MM-DD`.
fn release_year(release: &Release) -> i64 {
    release
        .released_on
        .split('-')
        .next()
        .and_then(|year| year.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "release {}: released_on {:?} is not a YYYY-MM-DD date",
                release.version, release.released_on
            )
        })
}

pub(super) fn timestamp(seconds: i64) -> Value {
    Value::Timestamp(format_timestamp(seconds))
}

pub(super) fn format_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 60, 365, 10_957, 20_000, 20_454] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00+00");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00+00");
    }
}
