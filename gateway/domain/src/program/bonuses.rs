//! Bonuses: which bonus rules an occasion meets, and who pays how many of their points.
//!
//! A bonus is awarded once per member, rule and occasion (its **occasion key**: `sign_up`,
//! `referral:<friend>`, `birthday:2027`, …); the ledger keeps that key with the award, so a
//! second award of the same key is refused however it is asked for.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::rules::{self, BonusRule, Occasion, RuleDefinition, RuleVersion, Share};

/// Who pays for bonus points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Funder {
    /// The programme (its promotions account).
    Operator,
    /// A partner, by code (charged at its terms' price per point).
    Partner(String),
}

/// A bonus rule in force, by its code.
#[derive(Debug, Clone, Copy)]
pub struct Bonus<'a> {
    /// Its code.
    pub code: &'a str,
    /// Its rule.
    pub rule: &'a BonusRule,
}

/// The bonus rules for `occasion` in force at `at`, among every rule's `versions`.
pub fn in_force(versions: &[RuleVersion], at: DateTime<Utc>, occasion: Occasion) -> Vec<Bonus<'_>> {
    of_occasion(&rules::in_force(versions, at), occasion)
}

/// The bonus rules for `occasion` among the versions `in_force`.
pub fn of_occasion<'r>(in_force: &[&'r RuleVersion], occasion: Occasion) -> Vec<Bonus<'r>> {
    in_force
        .iter()
        .filter_map(|version| match &version.definition {
            Some(RuleDefinition::Bonus(rule)) if rule.occasion == occasion => Some(Bonus {
                code: version.code.as_str(),
                rule,
            }),
            _ => None,
        })
        .collect()
}

/// Where a member stands toward a repeat-visit bonus: the purchase that makes `have` reach
/// `visits` within the last `within_days` local days earns `points`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatVisitProgress {
    /// The bonus rule's code.
    pub code: String,
    /// Its points.
    pub points: i64,
    /// The purchase that earns it: the n-th …
    pub visits: u16,
    /// … within this many days (today included).
    pub within_days: u16,
    /// Purchases the member made within those days, today's included.
    pub have: i64,
}

/// Where a member with activity per local day `days` stands on `today` toward each repeat-visit
/// bonus in force (`bonuses`).
pub fn repeat_visit_progress(
    bonuses: &[Bonus<'_>],
    days: &[(chrono::NaiveDate, super::tiers::Tally)],
    today: chrono::NaiveDate,
) -> Vec<RepeatVisitProgress> {
    bonuses
        .iter()
        .filter_map(|bonus| {
            let (visits, within_days) = (bonus.rule.visits?, bonus.rule.within_days?);
            let from = today - chrono::Days::new(u64::from(within_days.saturating_sub(1)));
            let have = days
                .iter()
                .filter(|(day, _)| (from..=today).contains(day))
                .map(|(_, tally)| tally.visits)
                .sum();
            Some(RepeatVisitProgress {
                code: bonus.code.to_owned(),
                points: bonus.rule.points,
                visits,
                within_days,
                have,
            })
        })
        .collect()
}

/// Whether `personal` has every field a `profile_completed` rule names (`name`, `email`,
/// `birth_date`; validation allows no others).
pub fn profile_complete(
    rule: &super::rules::BonusRule,
    personal: &crate::member_data::PersonalData,
) -> bool {
    rule.profile_fields
        .iter()
        .all(|field| match field.as_str() {
            "name" => !personal.name.is_empty(),
            "email" => personal.email.is_some(),
            "birth_date" => personal.birth_date.is_some(),
            _ => false,
        })
}

/// How many days after a birthday or an anniversary its bonus may still be awarded: the
/// member's birthday week, and room for a daily job that was down for a few days.
pub const OCCASION_DAYS: i64 = 7;

/// A birthday as kept in clear: month and day, `MM-DD`.
pub fn birthday_of(birth_date: NaiveDate) -> String {
    birth_date.format("%m-%d").to_string()
}

/// The `MM-DD` of the days a birthday or anniversary falls on whose bonus is due `today`: today
/// and the days before it in the week. 29 February counts as 28 February in other years.
pub fn due_month_days(today: NaiveDate) -> Vec<String> {
    let mut days: Vec<String> = (0..OCCASION_DAYS)
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(back as u64)))
        .map(birthday_of)
        .collect();
    if days.iter().any(|d| d == "02-28") && !is_leap(today.year()) {
        days.push("02-29".to_owned());
    }
    days
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

/// The last time month `month`, day `day` came, up to `today` (29 February on 28 February in
/// other years).
fn last_occurrence(month: u32, day: u32, today: NaiveDate) -> Option<NaiveDate> {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, month, day)
            .or_else(|| (month == 2 && day == 29).then(|| NaiveDate::from_ymd_opt(year, 2, 28))?)
    };
    let this_year = on(today.year())?;
    if this_year <= today {
        Some(this_year)
    } else {
        on(today.year() - 1)
    }
}

/// The occasion key of the birthday bonus due `today` for a member born on `birthday` (`MM-DD`):
/// `birthday:<year>`, when the birthday was within the last [`OCCASION_DAYS`].
pub fn birthday_due(birthday: &str, today: NaiveDate) -> Option<String> {
    let (month, day) = birthday.split_once('-')?;
    let occurred = last_occurrence(month.parse().ok()?, day.parse().ok()?, today)?;
    ((today - occurred).num_days() < OCCASION_DAYS).then(|| format!("birthday:{}", occurred.year()))
}

/// The occasion key of the anniversary bonus due `today` for a member enrolled (local date)
/// `enrolled`: `anniversary:<n>` for the n-th year, when it was within the last
/// [`OCCASION_DAYS`].
pub fn anniversary_due(enrolled: NaiveDate, today: NaiveDate) -> Option<String> {
    let occurred = last_occurrence(enrolled.month(), enrolled.day(), today)?;
    let years = occurred.year() - enrolled.year();
    (years >= 1 && (today - occurred).num_days() < OCCASION_DAYS)
        .then(|| format!("anniversary:{years}"))
}

/// `points` split between the rule's funders (see [`share_out`]); the operator pays it all when
/// the rule names no funders.
pub fn split(points: i64, funding: &[Share]) -> Vec<(Funder, i64)> {
    if funding.is_empty() {
        return vec![(Funder::Operator, points)];
    }
    let shares: Vec<(Funder, Decimal)> = funding
        .iter()
        .map(|share| {
            let funder = match share.funder.as_str() {
                "operator" => Funder::Operator,
                code => Funder::Partner(code.to_owned()),
            };
            (funder, share.share)
        })
        .collect();
    share_out(points, &shares)
}

/// `points` shared out: each funder gets its share rounded down, and what rounding leaves goes to
/// the first funder named, so the parts always add up to `points`. Funders whose part is zero are
/// left out.
pub fn share_out<F: Clone>(points: i64, shares: &[(F, Decimal)]) -> Vec<(F, i64)> {
    let mut parts: Vec<(F, i64)> = shares
        .iter()
        .map(|(funder, share)| {
            let part = (Decimal::from(points) * share).floor();
            (funder.clone(), i64::try_from(part).unwrap_or(0))
        })
        .collect();
    let given: i64 = parts.iter().map(|(_, p)| p).sum();
    if let Some(first) = parts.first_mut() {
        first.1 += points - given;
    }
    parts.retain(|(_, p)| *p > 0);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(funder: &str, share: &str) -> Share {
        Share {
            funder: funder.into(),
            share: share.parse().unwrap(),
        }
    }

    #[test]
    fn birthdays_and_anniversaries_are_due_for_a_week_once_a_year() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(birthday_of(day(1990, 3, 21)), "03-21");
        assert_eq!(
            birthday_due("03-21", day(2027, 3, 21)).as_deref(),
            Some("birthday:2027")
        );
        assert_eq!(
            birthday_due("03-21", day(2027, 3, 27)).as_deref(),
            Some("birthday:2027")
        );
        assert_eq!(birthday_due("03-21", day(2027, 3, 28)), None);
        assert_eq!(birthday_due("03-21", day(2027, 3, 20)), None);
        // Across the new year, the key is the year the birthday fell in.
        assert_eq!(
            birthday_due("12-30", day(2028, 1, 2)).as_deref(),
            Some("birthday:2027")
        );
        // 29 February on 28 February in other years.
        assert_eq!(
            birthday_due("02-29", day(2027, 2, 28)).as_deref(),
            Some("birthday:2027")
        );
        assert!(due_month_days(day(2027, 3, 1)).contains(&"02-29".to_owned()));
        assert_eq!(due_month_days(day(2027, 3, 21)).len(), 7);
        assert_eq!(
            anniversary_due(day(2025, 6, 1), day(2027, 6, 3)).as_deref(),
            Some("anniversary:2")
        );
        assert_eq!(anniversary_due(day(2027, 6, 1), day(2027, 6, 1)), None);
        assert_eq!(anniversary_due(day(2025, 6, 1), day(2027, 6, 8)), None);
    }

    #[test]
    fn shares_round_down_and_the_first_funder_takes_the_rest() {
        assert_eq!(split(100, &[]), [(Funder::Operator, 100)]);
        let half = [share("saffron-kitchen", "0.5"), share("operator", "0.5")];
        assert_eq!(
            split(101, &half),
            [
                (Funder::Partner("saffron-kitchen".into()), 51),
                (Funder::Operator, 50)
            ]
        );
        let thirds = [
            share("operator", "0.34"),
            share("a", "0.33"),
            share("b", "0.33"),
        ];
        let parts = split(10, &thirds);
        assert_eq!(parts.iter().map(|(_, p)| p).sum::<i64>(), 10);
        assert_eq!(parts[0], (Funder::Operator, 4));
        assert_eq!(split(1, &thirds), [(Funder::Operator, 1)]);
    }
}
