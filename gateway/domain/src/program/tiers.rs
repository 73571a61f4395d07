//! Which tier a member holds, from what they did within each tier's rolling window.
//!
//! A member qualifies for a tier at an instant when the tier's measure (points earned, money
//! spent, or purchases) over the `window_days` before that instant reaches its threshold. So the
//! upgrade comes at once, with the purchase that reaches the threshold, and a qualification lapses
//! only when what earned it leaves the window: at the end of the window. The member then keeps the
//! tier for `grace_days` more, and loses it at the start of the next local day (the programme's
//! time zone, Asia/Tehran in the demo). The member holds the highest-ranked tier they still hold
//! that way; rank 0 always.

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;

use super::rules::{Measure, TierRule};

/// One purchase of the member, as tiers count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Points it earned.
    pub points: i64,
    /// What was spent, in minor units.
    pub spend_minor: i64,
}

impl Activity {
    fn amount(&self, measure: Measure) -> i64 {
        match measure {
            Measure::Points => self.points,
            Measure::Spend => self.spend_minor,
            Measure::Visits => 1,
        }
    }
}

/// A tier in force, by its code.
#[derive(Debug, Clone, Copy)]
pub struct Tier<'a> {
    /// Its code.
    pub code: &'a str,
    /// Its rule.
    pub rule: &'a TierRule,
}

/// Where a member stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The tier held.
    pub tier: String,
    /// Until when it is held for sure (`None`: while the member qualifies, or for rank 0).
    pub held_until: Option<DateTime<Utc>>,
    /// Toward the next tier up, if there is one.
    pub progress: Option<Progress>,
}

/// Progress toward a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The tier.
    pub tier: String,
    /// What counts.
    pub measure: Measure,
    /// How much the member has within its window.
    pub have: i64,
    /// Its threshold.
    pub need: i64,
}

/// The measure over the window ending at `at` (activity after `at - window`, up to `at`).
fn within(activity: &[Activity], measure: Measure, window: Duration, at: DateTime<Utc>) -> i64 {
    activity
        .iter()
        .filter(|a| a.at > at - window && a.at <= at)
        .map(|a| a.amount(measure))
        .fold(0_i64, i64::saturating_add)
}

/// When the member last stopped qualifying for `rule`, up to `now`: the moment the window let go
/// of what qualified them (`None` if they never did).
fn lapsed_at(activity: &[Activity], rule: &TierRule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = Duration::days(i64::from(rule.window_days));
    // Qualification can only end when an activity leaves the window; it held just before that
    // instant if the window ending there did.
    activity
        .iter()
        .map(|a| a.at + window)
        .filter(|leaves| *leaves <= now)
        .filter(|leaves| {
            let before = *leaves - Duration::microseconds(1);
            within(activity, rule.measure, window, before) >= rule.threshold
        })
        .max()
}

/// The start of the local day after `at`'s local day, in `zone`.
fn next_local_midnight(at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&zone).date_naive();
    let next = local.succ_opt().unwrap_or(local).and_time(NaiveTime::MIN);
    zone.from_local_datetime(&next)
        .earliest()
        .map_or(at, |t| t.with_timezone(&Utc))
}

/// The member's standing at `now` among `tiers` (those in force), from their `activity`.
/// `None` when no tier is in force.
pub fn standing(
    tiers: &[Tier<'_>],
    activity: &[Activity],
    now: DateTime<Utc>,
    zone: Tz,
) -> Option<Standing> {
    let mut ranked: Vec<&Tier<'_>> = tiers.iter().collect();
    ranked.sort_by_key(|t| std::cmp::Reverse(t.rule.rank));
    let held = ranked.iter().find_map(|tier| {
        let window = Duration::days(i64::from(tier.rule.window_days));
        if tier.rule.rank == 0
            || within(activity, tier.rule.measure, window, now) >= tier.rule.threshold
        {
            return Some((*tier, None));
        }
        let lapsed = lapsed_at(activity, tier.rule, now)?;
        let lapses = lapsed + Duration::days(i64::from(tier.rule.grace_days));
        let until = next_local_midnight(lapses, zone);
        (now < until).then_some((*tier, Some(until)))
    })?;
    let (tier, held_until) = held;
    let progress = ranked
        .iter()
        .filter(|t| t.rule.rank > tier.rule.rank)
        .min_by_key(|t| t.rule.rank)
        .map(|next| Progress {
            tier: next.code.to_owned(),
            measure: next.rule.measure,
            have: within(
                activity,
                next.rule.measure,
                Duration::days(i64::from(next.rule.window_days)),
                now,
            ),
            need: next.rule.threshold,
        });
    Some(Standing {
        tier: tier.code.to_owned(),
        held_until,
        progress,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::program::rules::Names;

    fn rule(rank: u8, threshold: i64) -> TierRule {
        TierRule {
            name: Names {
                en: "t".into(),
                fa: "t".into(),
            },
            rank,
            measure: Measure::Points,
            threshold,
            window_days: 365,
            grace_days: 30,
            earn_multiplier: Decimal::ONE,
            benefits: Vec::new(),
        }
    }

    fn earn(at: DateTime<Utc>, points: i64) -> Activity {
        Activity {
            at,
            points,
            spend_minor: points * 10_000,
        }
    }

    #[test]
    fn upgrade_at_once_downgrade_after_the_window_and_grace_at_a_tehran_midnight() {
        let zone: Tz = "Asia/Tehran".parse().unwrap();
        let (bronze, silver, gold) = (rule(0, 0), rule(1, 1_000), rule(2, 5_000));
        let tiers = [
            Tier {
                code: "gold",
                rule: &gold,
            },
            Tier {
                code: "bronze",
                rule: &bronze,
            },
            Tier {
                code: "silver",
                rule: &silver,
            },
        ];
        // 14:00 Tehran time on 2026-01-10.
        let start = Utc.with_ymd_and_hms(2026, 1, 10, 10, 30, 0).unwrap();
        let mut activity = vec![earn(start, 600)];
        let at = |t| standing(&tiers, &activity, t, zone).unwrap();
        let first = at(start);
        assert_eq!(first.tier, "bronze");
        assert_eq!(
            first.progress,
            Some(Progress {
                tier: "silver".into(),
                measure: Measure::Points,
                have: 600,
                need: 1_000
            })
        );

        // The purchase that reaches the threshold upgrades at once.
        let later = start + Duration::days(40);
        activity.push(earn(later, 400));
        let at = |t| standing(&tiers, &activity, t, zone).unwrap();
        assert_eq!(at(later).tier, "silver");
        assert_eq!(at(later).held_until, None);
        assert_eq!(at(later).progress.unwrap().tier, "gold");

        // The first earn leaves the window 365 days on: the member keeps silver through the
        // grace, until the Tehran midnight after it, and not a microsecond longer.
        let lapses = start + Duration::days(365 + 30);
        let held = at(lapses);
        assert_eq!(held.tier, "silver");
        let midnight = Utc.with_ymd_and_hms(2027, 2, 9, 20, 30, 0).unwrap();
        assert_eq!(held.held_until, Some(midnight));
        assert_eq!(at(midnight - Duration::microseconds(1)).tier, "silver");
        assert_eq!(at(midnight).tier, "bronze");

        // Without grace, at the first midnight after the window's end.
        let strict = TierRule {
            grace_days: 0,
            ..silver.clone()
        };
        let tiers = [
            Tier {
                code: "bronze",
                rule: &bronze,
            },
            Tier {
                code: "silver",
                rule: &strict,
            },
        ];
        let end = start + Duration::days(365);
        let standing_at = |t| standing(&tiers, &activity, t, zone).unwrap().tier;
        assert_eq!(standing_at(end - Duration::microseconds(1)), "silver");
        assert_eq!(standing_at(end), "silver");
        assert_eq!(
            standing_at(Utc.with_ymd_and_hms(2027, 1, 10, 20, 30, 0).unwrap()),
            "bronze"
        );
        assert!(standing(&[], &activity, end, zone).is_none());
    }
}
