//! Campaigns at an earn: which campaigns an earn qualifies for (the place and the day, checked
//! where the earn is priced; the member's segment and the budget, checked in the books), and
//! how many points each gives.
//!
//! How a campaign combines with the rest: a `multiplier` campaign gives the earn's **base**
//! points (the partner's rule, before the tier's multiplier) times `multiplier − 1`, rounded
//! down, as a bonus; a `points` campaign gives its points. Tier multipliers and campaigns add up:
//! base 100 at silver (×1.25) in a ×2 campaign earns 125 + 100. Several campaigns each give
//! theirs. A campaign's budget caps the points it gives in all: the earn that reaches it gets what
//! is left, and the campaign gives nothing after.

use chrono::{DateTime, Datelike as _, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::rules::{CampaignAward, CampaignRule};
use crate::ids::{BranchId, MemberId, PartnerId};
use crate::points::Points;

/// Whom a campaign is for, with codes resolved to ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Members in one of these tiers (any when empty).
    pub tiers: Vec<String>,
    /// Members enrolled at this partner.
    pub home_partner: Option<PartnerId>,
    /// Members enrolled at this branch.
    pub home_branch: Option<BranchId>,
    /// Members whose birthday is in the current local month.
    pub birthday_month: bool,
    /// Members enrolled within this many days.
    pub enrolled_within_days: Option<u16>,
    /// Members, for at least this many days, with no purchase within this many days before.
    pub inactive_days: Option<u16>,
    /// Members whose city's keyed hash is this.
    pub city: Option<[u8; 32]>,
}

/// What the books know of a member, for a campaign's audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    /// Where they enrolled.
    pub home_partner: PartnerId,
    /// The branch.
    pub home_branch: BranchId,
    /// When.
    pub enrolled_at: DateTime<Utc>,
    /// Their birthday, `MM-DD`.
    pub birthday: Option<String>,
    /// The local day of their last purchase, if any.
    pub last_visit: Option<chrono::NaiveDate>,
    /// The keyed hash of their city, if they gave one.
    pub city_lookup: Option<[u8; 32]>,
}

impl Audience {
    /// Whether it asks anything of the member beyond their tier.
    pub fn needs_facts(&self) -> bool {
        self.home_partner.is_some()
            || self.home_branch.is_some()
            || self.birthday_month
            || self.enrolled_within_days.is_some()
            || self.inactive_days.is_some()
            || self.city.is_some()
    }

    /// Whether a member in `tier` with `facts` is in it at `now`.
    pub fn admits(
        &self,
        tier: Option<&str>,
        facts: Option<&MemberFacts>,
        now: DateTime<Utc>,
        zone: Tz,
    ) -> bool {
        if !self.tiers.is_empty() && !tier.is_some_and(|t| self.tiers.iter().any(|x| x == t)) {
            return false;
        }
        if !self.needs_facts() {
            return true;
        }
        let Some(facts) = facts else {
            return false;
        };
        let month = format!("{:02}-", now.with_timezone(&zone).month());
        self.home_partner.is_none_or(|p| p == facts.home_partner)
            && self.home_branch.is_none_or(|b| b == facts.home_branch)
            && (!self.birthday_month
                || facts
                    .birthday
                    .as_deref()
                    .is_some_and(|b| b.starts_with(&month)))
            && self.enrolled_within_days.is_none_or(|days| {
                now - facts.enrolled_at <= chrono::Duration::days(i64::from(days))
            })
            && self.city.is_none_or(|city| facts.city_lookup == Some(city))
            && self.inactive_days.is_none_or(|days| {
                let days = chrono::Duration::days(i64::from(days));
                let today = now.with_timezone(&zone).date_naive();
                now - facts.enrolled_at >= days
                    && facts.last_visit.is_none_or(|last| today - last >= days)
            })
    }
}

/// A campaign an earn qualifies for by place and day, ready for the books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignOffer {
    /// The campaign's code.
    pub code: String,
    /// Its name, in both languages.
    pub name: super::rules::Names,
    /// What it gives.
    pub award: CampaignAward,
    /// Whom it is for.
    pub audience: Audience,
    /// The most points it may give in all.
    pub budget_points: Option<i64>,
    /// Who pays, in shares: the operator (`None`) or a partner; the first takes what rounding
    /// leaves.
    pub funding: Vec<(Option<PartnerId>, Decimal)>,
}

impl CampaignOffer {
    /// The points it gives an earn of `base` points, before its budget.
    pub fn points(&self, base: Points) -> i64 {
        match self.award {
            CampaignAward::Points(points) => points,
            CampaignAward::Multiplier(factor) => {
                let extra = (Decimal::from(base.get()) * (factor - Decimal::ONE)).floor();
                i64::try_from(extra).unwrap_or(0).max(0)
            }
        }
    }

    /// What is left of its budget once `spent` points are given (`None`: it has no budget).
    pub fn left(&self, spent: i64) -> Option<i64> {
        self.budget_points
            .map(|budget| budget.saturating_sub(spent).max(0))
    }

    /// `points` split between its funders ([`super::bonuses::share_out`]; the operator's alone
    /// when it names none).
    pub fn split(&self, points: i64) -> Vec<(Option<PartnerId>, Points)> {
        if self.funding.is_empty() {
            return vec![(None, Points(points))];
        }
        super::bonuses::share_out(points, &self.funding)
            .into_iter()
            .map(|(funder, part)| (funder, Points(part)))
            .collect()
    }
}

/// A repeat-visit bonus an earn may complete: the purchase that makes it the `visits`-th within
/// the last `within_days` local days (today included) earns it, keyed by that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatVisitOffer {
    /// The bonus rule's code.
    pub code: String,
    /// The occasion key it would be awarded under: `repeat-visit:<local day of the purchase>`.
    pub occasion: String,
    /// The purchase that earns it: the n-th …
    pub visits: u16,
    /// … within this many days.
    pub within_days: u16,
    /// Who pays how many points.
    pub shares: Vec<(Option<PartnerId>, Points)>,
}

/// A referral's second bonus: the referred member's first purchase rewards whoever referred them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstPurchaseOffer {
    /// The referrer, who gets it.
    pub referrer: MemberId,
    /// The bonus rule's code.
    pub code: String,
    /// The occasion key: `first-purchase:<the referred member's id>`.
    pub occasion: String,
    /// Who pays how many points.
    pub shares: Vec<(Option<PartnerId>, Points)>,
}

/// Whether `rule` runs at `at` (its window, and its local weekdays in `zone`).
pub fn runs_at(rule: &CampaignRule, at: DateTime<Utc>, zone: Tz) -> bool {
    let weekday = at.with_timezone(&zone).weekday();
    rule.starts_at <= at
        && at < rule.ends_at
        && (rule.days.is_empty() || rule.days.contains(&weekday))
}

/// A posted purchase of the past, as a campaign's dry run replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastEarn {
    /// When it happened (a late earn's `occurred_at`).
    pub at: DateTime<Utc>,
    /// Whose.
    pub member_id: MemberId,
    /// Where.
    pub partner_id: PartnerId,
    /// The branch.
    pub branch_id: BranchId,
    /// Its base points (under the earn rules and their caps, before the tier).
    pub base: Points,
    /// The tier the member held when it was made, when tiers were in force.
    pub tier: Option<String>,
}

/// What a campaign would have given over past purchases: its dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRun {
    /// Purchases replayed.
    pub earns: u64,
    /// Purchases it would have given a bonus.
    pub rewarded: u64,
    /// The members it would have reached.
    pub members: std::collections::BTreeSet<MemberId>,
    /// Points it would have given, within its budget.
    pub points: i64,
    /// What each funder would have paid: the operator (`None`) or a partner.
    pub by_funder: std::collections::BTreeMap<Option<PartnerId>, i64>,
    /// When its budget would have run out, if it would have.
    pub budget_spent_at: Option<DateTime<Utc>>,
}

impl DryRun {
    /// Replays `earn` (in the order they were made) against `offer`, running on `days` (local
    /// weekdays, every day when empty) where `at_place` says: as the books would have decided it,
    /// but for the campaign's window.
    pub fn replay(
        &mut self,
        offer: &CampaignOffer,
        days: &[chrono::Weekday],
        at_place: bool,
        earn: &PastEarn,
        facts: Option<&MemberFacts>,
        zone: Tz,
    ) {
        self.earns += 1;
        let weekday = earn.at.with_timezone(&zone).weekday();
        if !at_place
            || !(days.is_empty() || days.contains(&weekday))
            || !offer
                .audience
                .admits(earn.tier.as_deref(), facts, earn.at, zone)
        {
            return;
        }
        let points = offer
            .points(earn.base)
            .min(offer.left(self.points).unwrap_or(i64::MAX));
        if points == 0 {
            return;
        }
        self.rewarded += 1;
        self.members.insert(earn.member_id);
        self.points += points;
        for (funder, part) in offer.split(points) {
            *self.by_funder.entry(funder).or_default() += part.get();
        }
        if offer.left(self.points) == Some(0) {
            self.budget_spent_at.get_or_insert(earn.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use uuid::Uuid;

    use super::*;

    fn offer(award: CampaignAward, funding: Vec<(Option<PartnerId>, Decimal)>) -> CampaignOffer {
        CampaignOffer {
            code: "weekend".into(),
            name: super::super::rules::Names {
                en: "Weekend".into(),
                fa: "آخر هفته".into(),
            },
            award,
            audience: Audience::default(),
            budget_points: None,
            funding,
        }
    }

    #[test]
    fn a_multiplier_gives_the_extra_on_base_points_rounded_down_and_funders_share_it() {
        let double = offer(CampaignAward::Multiplier(Decimal::new(15, 1)), Vec::new());
        assert_eq!(double.points(Points(101)), 50);
        assert_eq!(double.split(50), [(None, Points(50))]);
        let restaurant = Some(PartnerId(Uuid::from_u128(7)));
        let half = offer(
            CampaignAward::Points(11),
            vec![(restaurant, Decimal::new(5, 1)), (None, Decimal::new(5, 1))],
        );
        assert_eq!(half.points(Points(1)), 11);
        assert_eq!(half.split(11), [(restaurant, Points(6)), (None, Points(5))]);
    }

    #[test]
    fn an_audience_admits_by_tier_home_birthday_month_and_enrolment() {
        let zone: Tz = "Asia/Tehran".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2027, 3, 31, 21, 0, 0).unwrap(); // 1 April in Tehran
        let home = PartnerId(Uuid::from_u128(1));
        let facts = MemberFacts {
            home_partner: home,
            home_branch: BranchId(Uuid::from_u128(2)),
            enrolled_at: now - chrono::Duration::days(10),
            birthday: Some("04-15".into()),
            // 29 March in Tehran: three days before.
            last_visit: chrono::NaiveDate::from_ymd_opt(2027, 3, 29),
            city_lookup: Some([7; 32]),
        };
        let silver = Audience {
            tiers: vec!["silver".into()],
            ..Audience::default()
        };
        assert!(silver.admits(Some("silver"), None, now, zone));
        assert!(!silver.admits(Some("bronze"), None, now, zone));
        let april_birthdays_new_at_home = Audience {
            home_partner: Some(home),
            birthday_month: true,
            enrolled_within_days: Some(10),
            ..Audience::default()
        };
        assert!(april_birthdays_new_at_home.admits(None, Some(&facts), now, zone));
        let march = now - chrono::Duration::hours(1); // 31 March in Tehran
        assert!(!april_birthdays_new_at_home.admits(None, Some(&facts), march, zone));
        assert!(!april_birthdays_new_at_home.admits(None, None, now, zone));
        // Away for 3 days: in a 3-day come-back audience, not a 4-day one; and not in an 11-day
        // one, having been a member for 10 days only.
        let away = |days| Audience {
            inactive_days: Some(days),
            ..Audience::default()
        };
        assert!(away(3).admits(None, Some(&facts), now, zone));
        assert!(!away(4).admits(None, Some(&facts), now, zone));
        let never = MemberFacts {
            last_visit: None,
            ..facts.clone()
        };
        assert!(away(10).admits(None, Some(&never), now, zone));
        assert!(!away(11).admits(None, Some(&never), now, zone));
        let city = |lookup| Audience {
            city: Some(lookup),
            ..Audience::default()
        };
        assert!(city([7; 32]).admits(None, Some(&facts), now, zone));
        assert!(!city([8; 32]).admits(None, Some(&facts), now, zone));
    }
}
