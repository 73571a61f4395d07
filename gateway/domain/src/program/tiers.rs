//! Which tier a member holds, from what they did within each tier's rolling window.
//!
//! A member qualifies for a tier at an instant when the tier's measure (points earned, money
//! spent, or purchases) over the `window_days` before that instant reaches its threshold. So the
//! upgrade comes at once, with the purchase that reaches the threshold, and a qualification lapses
//! only when what earned it leaves the window: at the end of the window. The member then keeps the
//! tier for `grace_days` more, and loses it at the start of the next local day (the programme's
//! time zone, Asia/Tehran in the demo). The member holds the highest-ranked tier they still hold
//! that way; rank 0 always.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::rules::{self, Measure, RuleDefinition, RuleVersion, TierRule};
use crate::ledger::{Phase, Transfer, TransferCode};
use crate::points::Points;

/// What a member did at partners, as tiers count it: purchases' points and spend, and visits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Points earned by purchases (reversals take theirs back).
    pub points: i64,
    /// Money spent, in minor units (reversals take back their share).
    pub spend_minor: i64,
    /// Purchases.
    pub visits: i64,
}

impl Tally {
    /// What `transfer` adds to its member's tally: a posted earn its points, its purchase and a
    /// visit; an earn's reversal takes its points and its share of the purchase back (the visit
    /// stays). Nothing for anything else (bonuses, redemptions, expiry).
    pub fn of(transfer: &Transfer) -> Option<Self> {
        let money = transfer.money_minor.unwrap_or(0);
        match (transfer.code, transfer.phase) {
            (TransferCode::Earn, Phase::Single | Phase::Post) => Some(Self {
                points: transfer.amount.get(),
                spend_minor: money,
                visits: 1,
            }),
            (TransferCode::EarnReversal, _) => Some(Self {
                points: -transfer.amount.get(),
                spend_minor: -money,
                visits: 0,
            }),
            _ => None,
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: Self) {
        self.points = self.points.saturating_add(other.points);
        self.spend_minor = self.spend_minor.saturating_add(other.spend_minor);
        self.visits = self.visits.saturating_add(other.visits);
    }

    fn amount(&self, measure: Measure) -> i64 {
        match measure {
            Measure::Points => self.points,
            Measure::Spend => self.spend_minor,
            Measure::Visits => self.visits,
        }
    }
}

/// The local day (in the programme's zone) of an instant: a member's activity is kept per day.
pub fn local_day(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// What a member did on one local day, counted from the day's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// The start of the day.
    pub at: DateTime<Utc>,
    /// What was done that day.
    pub tally: Tally,
}

impl Activity {
    /// The activity of `day` in `zone`.
    pub fn on(day: NaiveDate, tally: Tally, zone: Tz) -> Self {
        Self {
            at: day_start(day, zone),
            tally,
        }
    }
}

fn day_start(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || day.and_time(NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// The tiers in force at `at`, among every rule's `versions` (ordered by kind, code, version).
pub fn in_force(versions: &[RuleVersion], at: DateTime<Utc>) -> Vec<Tier<'_>> {
    rules::in_force(versions, at)
        .into_iter()
        .filter_map(|version| match &version.definition {
            Some(RuleDefinition::Tier(rule)) => Some(Tier {
                code: version.code.as_str(),
                rule,
            }),
            _ => None,
        })
        .collect()
}

/// The first day whose activity a batch reads at `now`: as far back as the tiers' windows (and
/// grace) and the repeat-visit bonuses count; `None` when neither is in force.
pub fn activity_needed_since(
    tiers: &[Tier<'_>],
    versions: &[RuleVersion],
    now: DateTime<Utc>,
    zone: Tz,
) -> Option<NaiveDate> {
    let tiers = activity_since(tiers, now, zone);
    let repeat = super::bonuses::in_force(versions, now, super::rules::Occasion::RepeatVisit)
        .iter()
        .filter_map(|b| b.rule.within_days)
        .max()
        .map(|days| local_day(now, zone) - chrono::Days::new(u64::from(days)));
    tiers.into_iter().chain(repeat).min()
}

/// The first day whose activity the longest window among `tiers` can still count at `now` (and
/// its grace after): days before it can be forgotten when deciding a standing. `None` without
/// tiers: no activity need be read.
pub fn activity_since(tiers: &[Tier<'_>], now: DateTime<Utc>, zone: Tz) -> Option<NaiveDate> {
    let days = tiers
        .iter()
        .map(|t| i64::from(t.rule.window_days) + i64::from(t.rule.grace_days))
        .max()?;
    Some(local_day(now - Duration::days(days + 1), zone))
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
    /// Its rule: names, multiplier, benefits.
    pub rule: TierRule,
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
        .map(|a| a.tally.amount(measure))
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

/// The member's standing at `now` among `tiers`, from what they did per local `days`.
pub fn standing_on_days(
    tiers: &[Tier<'_>],
    days: impl IntoIterator<Item = (NaiveDate, Tally)>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Option<Standing> {
    let activity: Vec<Activity> = days
        .into_iter()
        .map(|(day, tally)| Activity::on(day, tally, zone))
        .collect();
    standing(tiers, &activity, now, zone)
}

/// Points `base` earned in `tier`: multiplied by its earn multiplier, rounded down.
pub fn multiplied(base: Points, tier: Option<&TierRule>) -> Points {
    let Some(rule) = tier else {
        return base;
    };
    let points = (Decimal::from(base.get()) * rule.earn_multiplier).floor();
    Points(i64::try_from(points).unwrap_or(i64::MAX))
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
        rule: tier.rule.clone(),
        held_until,
        progress,
    })
}

#[cfg(test)]
mod tests {
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
            tally: Tally {
                points,
                spend_minor: points * 10_000,
                visits: 1,
            },
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

    #[test]
    fn multipliers_round_down_and_a_day_is_a_tehran_day() {
        let silver = TierRule {
            earn_multiplier: Decimal::new(125, 2),
            ..rule(1, 1_000)
        };
        assert_eq!(multiplied(Points(101), Some(&silver)), Points(126));
        assert_eq!(multiplied(Points(3), Some(&silver)), Points(3));
        assert_eq!(multiplied(Points(101), None), Points(101));
        let zone: Tz = "Asia/Tehran".parse().unwrap();
        // Tehran is UTC+03:30: its 1 March starts at 20:30 UTC on 28 February.
        let start = Utc.with_ymd_and_hms(2026, 2, 28, 20, 30, 0).unwrap();
        assert_eq!(local_day(start, zone).to_string(), "2026-03-01");
        assert_eq!(
            local_day(start - Duration::microseconds(1), zone).to_string(),
            "2026-02-28"
        );
        assert_eq!(
            Activity::on(local_day(start, zone), Tally::default(), zone).at,
            start
        );
    }

    #[test]
    fn earns_count_when_posted_and_reversals_take_back_points_and_spend() {
        use crate::ledger::{NewTransfer, Transfer};
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let transfer = |code, phase, amount, money| {
            let mut t = Transfer::new(
                NewTransfer {
                    debit: Default::default(),
                    credit: Default::default(),
                    amount: Points(amount),
                    code,
                    phase,
                },
                at,
            );
            t.money_minor = Some(money);
            t
        };
        let earn = Tally::of(&transfer(TransferCode::Earn, Phase::Single, 10, 1_000));
        assert_eq!(
            earn,
            Some(Tally {
                points: 10,
                spend_minor: 1_000,
                visits: 1
            })
        );
        assert_eq!(
            Tally::of(&transfer(TransferCode::Earn, Phase::Pending, 10, 1_000)),
            None
        );
        assert_eq!(
            Tally::of(&transfer(TransferCode::Earn, Phase::Post, 10, 1_000)),
            earn
        );
        let reversal = Tally::of(&transfer(TransferCode::EarnReversal, Phase::Single, 4, 400));
        assert_eq!(
            reversal,
            Some(Tally {
                points: -4,
                spend_minor: -400,
                visits: 0
            })
        );
        assert_eq!(
            Tally::of(&transfer(TransferCode::Redeem, Phase::Single, 4, 400)),
            None
        );
    }
}
