//! The programme's settings that the ledger and the club obey, and its rules as data
//! ([`rules`], checked by [`validation`]; [`tiers`] says which tier a member holds).

pub mod bonuses;
pub mod campaigns;
pub mod earning;
pub mod months;
pub mod rules;
pub mod tiers;
pub mod validation;

use std::time::Duration;

use crate::points::Points;

/// Programme settings.
#[derive(Debug, Clone)]
pub struct ProgramSettings {
    /// Digits every card number starts with.
    pub card_prefix: String,
    /// How long earned points stay valid.
    pub points_validity: chrono::Duration,
    /// A hold's lifetime when the partner does not say.
    pub default_hold: Duration,
    /// The longest hold a partner may ask for.
    pub max_hold: Duration,
    /// The latest a pending earn may be released.
    pub max_release: chrono::Duration,
    /// How long after the fact an event (or a late earn) may be reported with `occurred_at`.
    pub late_window: chrono::Duration,
    /// The zone of the programme's days: tiers' windows, birthdays, campaigns' days.
    pub time_zone: chrono_tz::Tz,
    /// Whose months the earn rules' monthly caps count.
    pub month_calendar: months::MonthCalendar,
    /// How often each instance rereads the rules; a change applies no sooner than this.
    pub rules_refresh: Duration,
    /// The bounds on one operation, for partners without their own.
    pub limits: Limits,
}

impl ProgramSettings {
    /// The first local day of the month `at` is in.
    pub fn month_start(&self, at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        let day = tiers::local_day(at, self.time_zone);
        self.month_calendar.month_of(day).start
    }

    /// When a reported operation happened: `occurred_at` (at stored precision), or `now` when
    /// absent; refused in the future or more than the late window ago. A time less than
    /// [`CLOCK_SKEW`] ahead (a till whose clock runs fast) is taken as now.
    pub fn occurred_at(
        &self,
        occurred_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<chrono::DateTime<chrono::Utc>, crate::ledger::LedgerError> {
        let at = occurred_at.map_or(now, crate::time::stored);
        if at >= now + CLOCK_SKEW || at < now - self.late_window {
            return Err(crate::ledger::LedgerError::OccurredAtInvalid {
                max_days: self.late_window.num_days(),
            });
        }
        Ok(at.min(now))
    }
}

/// How far ahead of the gateway's clock a reported time may be and still be taken as now.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The bounds on one operation: the largest purchase an earn may report, the most points an
/// earn or a redemption may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest purchase, in minor units.
    pub max_purchase_minor: i64,
    /// The most points.
    pub max_points: Points,
}

impl Limits {
    /// Refuses a purchase above the largest, before it is priced.
    pub fn check_purchase(&self, amount_minor: i64) -> Result<(), crate::pricing::PricingError> {
        if amount_minor > self.max_purchase_minor {
            return Err(crate::pricing::PricingError::PurchaseAboveLimit {
                max_minor: self.max_purchase_minor,
            });
        }
        Ok(())
    }

    /// Refuses points above the most one operation may move.
    pub fn check_points(&self, points: Points) -> Result<(), crate::pricing::PricingError> {
        if points > self.max_points {
            return Err(crate::pricing::PricingError::PointsAboveLimit {
                max: self.max_points,
            });
        }
        Ok(())
    }
}

/// A partner's own bounds where the operator set them (higher or lower than the programme's);
/// the programme's [`Limits`] for the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// The partner's largest purchase, in minor units.
    pub max_purchase_minor: Option<i64>,
    /// The most points one of the partner's operations may move.
    pub max_points: Option<Points>,
}

impl LimitOverrides {
    /// Overrides that are all above zero (a bound of zero or less would refuse everything).
    pub fn new(
        max_purchase_minor: Option<i64>,
        max_points: Option<Points>,
    ) -> Result<Self, InvalidLimit> {
        if max_purchase_minor.is_some_and(|max| max <= 0)
            || max_points.is_some_and(|max| max.0 <= 0)
        {
            return Err(InvalidLimit);
        }
        Ok(Self {
            max_purchase_minor,
            max_points,
        })
    }

    /// The bounds that apply: these where set, the programme's otherwise.
    pub fn over(&self, program: Limits) -> Limits {
        Limits {
            max_purchase_minor: self
                .max_purchase_minor
                .unwrap_or(program.max_purchase_minor),
            max_points: self.max_points.unwrap_or(program.max_points),
        }
    }
}

/// A limit of zero or less.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a limit must be above zero")]
pub struct InvalidLimit;

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Limits = Limits {
        max_purchase_minor: 1_000,
        max_points: Points(10),
    };

    #[test]
    fn a_partner_limit_replaces_the_programmes_where_set() {
        let own = LimitOverrides::new(Some(5_000), None)
            .unwrap()
            .over(PROGRAM);
        assert_eq!(own.max_purchase_minor, 5_000);
        assert_eq!(own.max_points, Points(10));
        assert!(own.check_purchase(5_000).is_ok());
        assert!(own.check_purchase(5_001).is_err());
        assert!(own.check_points(Points(11)).is_err());
        assert_eq!(LimitOverrides::default().over(PROGRAM), PROGRAM);
    }

    #[test]
    fn a_limit_of_zero_or_less_is_refused() {
        assert!(LimitOverrides::new(Some(0), None).is_err());
        assert!(LimitOverrides::new(None, Some(Points(-1))).is_err());
    }
}
