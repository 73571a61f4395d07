//! The calendar whose months the programme's monthly caps count: the Solar Hijri (Persian)
//! calendar Iranian partners keep their books by, or the Gregorian.

use std::ops::Range;

use chrono::{Datelike as _, Days, NaiveDate};
use serde::Deserialize;

/// Whose months.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthCalendar {
    /// The Solar Hijri calendar (Farvardin, Ordibehesht, …), official in Iran.
    #[default]
    Persian,
    /// The Gregorian calendar.
    Gregorian,
}

impl MonthCalendar {
    /// The local days of the month `day` is in: from its first to the next month's first.
    pub fn month_of(self, day: NaiveDate) -> Range<NaiveDate> {
        let (day_of_month, days_in_month) = match self {
            Self::Persian => Self::persian(day),
            Self::Gregorian => None,
        }
        .unwrap_or_else(|| {
            let first = day.with_day(1).unwrap_or(day);
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(day);
            (day.day(), next.signed_duration_since(first).num_days())
        });
        let first = day - Days::new(u64::from(day_of_month.saturating_sub(1)));
        let next = first + Days::new(u64::try_from(days_in_month).unwrap_or(0));
        first..next
    }

    /// `day`'s day of its Persian month, and that month's length.
    fn persian(day: NaiveDate) -> Option<(u32, i64)> {
        let month = u8::try_from(day.month()).ok()?;
        let of_month = u8::try_from(day.day()).ok()?;
        let iso = icu_calendar::Date::try_new_iso(day.year(), month, of_month).ok()?;
        let persian = iso.to_calendar(icu_calendar::cal::Persian);
        Some((
            u32::from(persian.day_of_month().0),
            i64::from(persian.days_in_month()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_are_persian_by_default_and_gregorian_when_asked() {
        // 1 Azar 1405 is 22 November 2026; Azar has 30 days, to 21 December.
        let azar = MonthCalendar::Persian.month_of(date(2026, 12, 1));
        assert_eq!(azar, date(2026, 11, 22)..date(2026, 12, 22));
        // Esfand 1403 (a leap year, 30 days) ended on 20 March 2025; Farvardin 1404 began.
        assert_eq!(
            MonthCalendar::Persian.month_of(date(2025, 3, 20)),
            date(2025, 2, 19)..date(2025, 3, 21)
        );
        assert_eq!(
            MonthCalendar::Persian.month_of(date(2025, 3, 21)).start,
            date(2025, 3, 21)
        );
        assert_eq!(
            MonthCalendar::Gregorian.month_of(date(2028, 2, 29)),
            date(2028, 2, 1)..date(2028, 3, 1)
        );
    }
}
