//! Partner terms: what a partner pays per point issued and is paid per point
//! redeemed, in which currency, settled over which periods, cut off at midnight
//! of which time zone.
//!
//! Terms are versioned. The first version starts at a local midnight chosen by
//! the operator (settlement begins there: earlier transfers are never settled).
//! Every later version starts at the end of the period that is open when it is
//! set, so a period is always settled under one version.

use chrono::{DateTime, Datelike as _, Days, Months, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::ids::{PartnerId, TermsId};
use crate::points::Currency;

/// How long a settlement period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// A day.
    Daily,
    /// ISO weeks: Monday to Sunday.
    Weekly,
    /// A calendar month.
    Monthly,
}

impl PeriodKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, TermsError> {
        match value {
            "daily" => Ok(Self::Daily),
            "weekly" => Ok(Self::Weekly),
            "monthly" => Ok(Self::Monthly),
            other => Err(TermsError::Invalid(format!(
                "period {other:?} is not daily, weekly or monthly"
            ))),
        }
    }

    /// The first period boundary strictly after `instant`, in `zone`.
    pub fn next_boundary(self, instant: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let today = instant.with_timezone(&zone).date_naive();
        let next = match self {
            Self::Daily => today + Days::new(1),
            Self::Weekly => {
                today + Days::new(u64::from(7 - today.weekday().num_days_from_monday()))
            }
            Self::Monthly => first_of_month(today) + Months::new(1),
        };
        start_of_day(next, zone)
    }
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The first instant of `date` in `zone`: local midnight, or the end of the gap when the
/// clocks jumped over midnight (Iran moved its clocks at 00:00 until 2022).
pub(crate) fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    (0..=180)
        .find_map(|minutes| {
            zone.from_local_datetime(&(midnight + chrono::Duration::minutes(minutes)))
                .earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&Utc),
        )
}

/// One version of a partner's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// Its id.
    pub id: TermsId,
    /// The partner.
    pub partner_id: PartnerId,
    /// 1, 2, … per partner.
    pub version: i32,
    /// When it starts to apply (a period boundary).
    pub effective_from: DateTime<Utc>,
    /// The currency statements are in.
    pub currency: Currency,
    /// Minor units per point issued (exact decimal).
    pub price_per_point: Decimal,
    /// Minor units per point redeemed (exact decimal).
    pub reimbursement_per_point: Decimal,
    /// How long a period is.
    pub period: PeriodKind,
    /// Where periods are cut at local midnight.
    pub time_zone: Tz,
}

/// What the operator sets; the version and start are decided by [`next_version`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerms {
    /// The currency statements are in.
    pub currency: Currency,
    /// Minor units per point issued.
    pub price_per_point: Decimal,
    /// Minor units per point redeemed.
    pub reimbursement_per_point: Decimal,
    /// How long a period is.
    pub period: PeriodKind,
    /// Where periods are cut.
    pub time_zone: Tz,
    /// For the first version only: the local date settlement starts (default: today).
    pub starts_on: Option<NaiveDate>,
}

/// Why terms were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum TermsError {
    /// A value is out of range; the text says which.
    #[error("{0}")]
    Invalid(String),
    /// No partner has this code.
    #[error("no partner {0:?}")]
    PartnerNotFound(String),
    /// A start date was given for a partner that has terms already.
    #[error(
        "the partner already has terms: a new version starts with the next period, so no start date can be chosen"
    )]
    StartDateFixed,
}

impl TermsError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_terms",
            Self::PartnerNotFound(_) => "partner_not_found",
            Self::StartDateFixed => "terms_start_fixed",
        }
    }
}

/// Parses an IANA time zone name.
pub fn parse_zone(name: &str) -> Result<Tz, TermsError> {
    name.parse::<Tz>()
        .map_err(|_| TermsError::Invalid(format!("{name:?} is not an IANA time zone")))
}

/// Parses a rate: a non-negative decimal with at most 8 decimal places.
pub fn parse_rate(what: &str, value: &str) -> Result<Decimal, TermsError> {
    // Plain notation only ("12.5"): no exponent, sign or separators to misread.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(TermsError::Invalid(format!(
            "{what} {value:?} must be written as digits with an optional decimal point"
        )));
    }
    let rate = value
        .parse::<Decimal>()
        .map_err(|e| TermsError::Invalid(format!("{what} {value:?} is not a decimal: {e}")))?;
    if rate.is_sign_negative() || rate.scale() > 8 || rate >= Decimal::from(10_i64.pow(15)) {
        return Err(TermsError::Invalid(format!(
            "{what} must be between 0 and 10^15 with at most 8 decimal places, not {value}"
        )));
    }
    Ok(rate.normalize())
}

/// The version that follows `current` (if any), set at `now`.
pub fn next_version(
    partner_id: PartnerId,
    current: Option<&Terms>,
    new: NewTerms,
    now: DateTime<Utc>,
) -> Result<Terms, TermsError> {
    let (version, effective_from) = match current {
        None => {
            let day = new
                .starts_on
                .unwrap_or_else(|| now.with_timezone(&new.time_zone).date_naive());
            (1, start_of_day(day, new.time_zone))
        }
        Some(_) if new.starts_on.is_some() => return Err(TermsError::StartDateFixed),
        Some(current) => {
            // The period open now (under the current terms) ends where the new version begins;
            // if the current version itself has not started yet, the new one replaces it there.
            let from = if current.effective_from > now {
                current.effective_from
            } else {
                current.period.next_boundary(now, current.time_zone)
            };
            (current.version + 1, from)
        }
    };
    Ok(Terms {
        id: TermsId(Uuid::now_v7()),
        partner_id,
        version,
        effective_from,
        currency: new.currency,
        price_per_point: new.price_per_point,
        reimbursement_per_point: new.reimbursement_per_point,
        period: new.period,
        time_zone: new.time_zone,
    })
}

/// The terms in force at `instant`, from a partner's versions (oldest first).
pub fn terms_at(versions: &[Terms], instant: DateTime<Utc>) -> Option<&Terms> {
    versions
        .iter()
        .rev()
        .find(|terms| terms.effective_from <= instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const TEHRAN: Tz = chrono_tz::Asia::Tehran;

    #[test]
    fn a_tehran_day_ends_at_20_30_utc() {
        // Iran is UTC+03:30 all year since 2022.
        let just_before = utc("2026-11-21T20:29:59Z");
        assert_eq!(
            PeriodKind::Daily.next_boundary(just_before, TEHRAN),
            utc("2026-11-21T20:30:00Z")
        );
        assert_eq!(
            PeriodKind::Daily.next_boundary(utc("2026-11-21T20:30:00Z"), TEHRAN),
            utc("2026-11-22T20:30:00Z")
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-11-22 is a Sunday.
        let sunday_noon = utc("2026-11-22T09:00:00Z");
        assert_eq!(
            PeriodKind::Weekly.next_boundary(sunday_noon, TEHRAN),
            utc("2026-11-22T20:30:00Z")
        );
        assert_eq!(
            PeriodKind::Monthly.next_boundary(sunday_noon, TEHRAN),
            utc("2026-11-30T20:30:00Z")
        );
        assert_eq!(
            PeriodKind::Monthly.next_boundary(utc("2026-12-31T21:00:00Z"), TEHRAN),
            utc("2027-01-31T20:30:00Z")
        );
    }

    #[test]
    fn a_midnight_skipped_by_daylight_saving_starts_the_day_at_one() {
        // 2021-03-22 00:00 Tehran did not exist: clocks went from 00:00 (+03:30) to 01:00 (+04:30).
        let day = NaiveDate::from_ymd_opt(2021, 3, 22).unwrap();
        assert_eq!(start_of_day(day, TEHRAN), utc("2021-03-21T20:30:00Z"));
        let next = PeriodKind::Daily.next_boundary(utc("2021-03-22T12:00:00Z"), TEHRAN);
        assert_eq!(next, utc("2021-03-22T19:30:00Z"));
    }

    #[test]
    fn a_new_version_starts_with_the_next_period() {
        let partner = PartnerId(Uuid::nil());
        let new = |starts_on| NewTerms {
            currency: Currency::parse("IRR").unwrap(),
            price_per_point: parse_rate("price", "12.5").unwrap(),
            reimbursement_per_point: parse_rate("reimbursement", "10").unwrap(),
            period: PeriodKind::Daily,
            time_zone: TEHRAN,
            starts_on,
        };
        let now = utc("2026-11-22T10:00:00Z");
        let first = next_version(partner, None, new(None), now).unwrap();
        assert_eq!(first.effective_from, utc("2026-11-21T20:30:00Z"));
        let second = next_version(partner, Some(&first), new(None), now).unwrap();
        assert_eq!(
            (second.version, second.effective_from),
            (2, utc("2026-11-22T20:30:00Z"))
        );
        assert!(matches!(
            next_version(partner, Some(&first), new(Some(now.date_naive())), now),
            Err(TermsError::StartDateFixed)
        ));
    }

    #[test]
    fn rates_are_exact_non_negative_decimals() {
        assert_eq!(parse_rate("p", "0.10").unwrap().to_string(), "0.1");
        assert!(parse_rate("p", "-1").is_err());
        assert!(parse_rate("p", "1.123456789").is_err());
        assert!(parse_rate("p", "1e3").is_err());
    }
}
