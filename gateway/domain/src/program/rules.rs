//! The programme's rules as data: product categories, tiers, earn rules, bonuses and
//! campaigns, each a sequence of versions under a code.
//!
//! A version is in force from its `effective_from` until the next version's; a
//! change is a new version, a retirement is a version without a definition. Versions
//! are never altered or removed, and a new one may only start after the last one and
//! not in the past, so what was earned under a version stays what it was. See
//! `docs/program.md`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::partners::Code;

/// What a rule is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RuleKind {
    /// A product category basket lines name (`food`, `rooms`).
    #[default]
    Category,
    /// A member tier.
    Tier,
    /// Points for purchases beyond the partner's base rate.
    EarnRule,
    /// Points for an occasion: sign-up, a referral, a birthday, …
    Bonus,
    /// A time-boxed bonus aimed at a segment of members.
    Campaign,
}

impl RuleKind {
    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The kind named `text`; the refusal lists the kinds.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::text::one_of(text, "a kind of rule")
    }
}

/// A name in both of the programme's languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// English.
    pub en: String,
    /// Persian.
    pub fa: String,
}

/// A product category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRule {
    /// Its name.
    pub name: Names,
}

/// What qualifies a member for a tier.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Measure {
    /// Points earned.
    Points,
    /// Money spent at partners, in minor units.
    Spend,
    /// Purchases made.
    Visits,
}

/// A member tier: members reach it by `threshold` of `measure` within the last `window_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRule {
    /// Its name.
    pub name: Names,
    /// Its place: 0 is the tier every member starts in; higher is better.
    pub rank: u8,
    /// What counts.
    pub measure: Measure,
    /// How much of it the member needs within the window (0 for rank 0).
    pub threshold: i64,
    /// The rolling window, in days.
    pub window_days: u16,
    /// How long after the window's end a member who no longer qualifies keeps the tier.
    #[serde(default)]
    pub grace_days: u16,
    /// Points earned at partners are multiplied by this (an exact decimal, e.g. `"1.25"`).
    pub earn_multiplier: Decimal,
    /// What the card carries, in both languages.
    #[serde(default)]
    pub benefits: Vec<Names>,
}

/// Where an earn rule or a campaign applies: a partner, one of its branches, a category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The partner's code (every partner when absent).
    #[serde(default)]
    pub partner: Option<String>,
    /// The branch's code, at `partner` (every branch when absent).
    #[serde(default)]
    pub branch: Option<String>,
    /// The category's code (every basket line when absent).
    #[serde(default)]
    pub category: Option<String>,
}

/// How a multiplier combines with the others that apply to the same line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Its extra (multiplier − 1) adds to the others'.
    Stack,
    /// Only the highest of the `best` multipliers applies.
    Best,
}

/// What an earn rule gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum EarnAward {
    /// A rate in place of the partner's: `points` per `per_amount_minor` of the basis.
    Rate {
        /// Points per step.
        points: i64,
        /// The step, in minor units.
        per_amount_minor: i64,
    },
    /// A multiplier of the points the rate gives.
    Multiplier {
        /// The factor (an exact decimal).
        factor: Decimal,
        /// How it combines.
        stacking: Stacking,
    },
}

/// What a rate is applied to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The amount paid.
    #[default]
    Amount,
    /// The partner's margin on the line (lines without one earn nothing from this rule).
    Margin,
}

/// Points for purchases beyond the partner's base rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarnRule {
    /// Where it applies.
    #[serde(default, rename = "where")]
    pub scope: Scope,
    /// What the rate is applied to.
    #[serde(default)]
    pub basis: Basis,
    /// What it gives.
    pub award: EarnAward,
    /// The smallest purchase it applies to, in minor units.
    #[serde(default)]
    pub min_purchase_minor: i64,
    /// The most points it gives one member in a day (Asia/Tehran in the demo).
    #[serde(default)]
    pub cap_per_day: Option<i64>,
    /// The most points it gives one member in a calendar month.
    #[serde(default)]
    pub cap_per_month: Option<i64>,
}

/// Who pays for bonus points: the operator, or a partner (by code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// `operator`, or a partner's code.
    pub funder: String,
    /// Its share (an exact decimal above 0, at most 1); the shares add up to 1.
    pub share: Decimal,
}

/// The occasions a bonus is for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Occasion {
    /// Enrolment.
    SignUp,
    /// The profile fields the rule names are all filled in.
    ProfileCompleted,
    /// (To the referrer) a friend enrolled with the member's invite code.
    ReferralEnrolled,
    /// (To the referrer) that friend's first purchase.
    ReferralFirstPurchase,
    /// A partner event (`POST /v1/events`): a review, a survey.
    Event,
    /// In the member's birthday week, once a year.
    Birthday,
    /// On the membership's anniversary.
    Anniversary,
    /// The n-th purchase within a number of days.
    RepeatVisit,
}

/// Points for an occasion, awarded once per member and occasion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BonusRule {
    /// The occasion.
    pub occasion: Occasion,
    /// Points awarded.
    pub points: i64,
    /// For `event`: the event type it rewards (`review`, `survey`).
    #[serde(default)]
    pub event_type: Option<String>,
    /// For `profile_completed`: the fields that must be filled in.
    #[serde(default)]
    pub profile_fields: Vec<String>,
    /// For `repeat_visit`: the purchase that earns it (e.g. the 5th) …
    #[serde(default)]
    pub visits: Option<u16>,
    /// … within this many days.
    #[serde(default)]
    pub within_days: Option<u16>,
    /// Who pays (the operator alone when empty).
    #[serde(default)]
    pub funding: Vec<Share>,
}

/// Which members a campaign is for (all of the conditions given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Members in one of these tiers (by code).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Members enrolled at this partner.
    #[serde(default)]
    pub home_partner: Option<String>,
    /// Members enrolled at this branch of `home_partner`.
    #[serde(default)]
    pub home_branch: Option<String>,
    /// Members whose city is this.
    #[serde(default)]
    pub city: Option<String>,
    /// Members whose birthday is in the current month.
    #[serde(default)]
    pub birthday_month: bool,
    /// Members with no purchase for at least this many days.
    #[serde(default)]
    pub inactive_days: Option<u16>,
    /// Members enrolled within this many days.
    #[serde(default)]
    pub enrolled_within_days: Option<u16>,
}

/// What a campaign gives on a qualifying earn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum CampaignAward {
    /// Fixed points.
    Points(i64),
    /// A multiplier of the earn's points (the extra is the bonus).
    Multiplier(Decimal),
}

/// A time-boxed bonus on earns, aimed at a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRule {
    /// Its name.
    pub name: Names,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends (exclusive).
    pub ends_at: DateTime<Utc>,
    /// What it gives.
    pub award: CampaignAward,
    /// Where earns qualify.
    #[serde(default, rename = "where")]
    pub scope: Scope,
    /// On which local weekdays (`saturday` … `friday`; every day when empty).
    #[serde(default)]
    pub days: Vec<chrono::Weekday>,
    /// Whom it is for.
    #[serde(default)]
    pub segment: Segment,
    /// The most points it may award in all; it stops when they are spent.
    #[serde(default)]
    pub budget_points: Option<i64>,
    /// Who pays (the operator alone when empty).
    #[serde(default)]
    pub funding: Vec<Share>,
}

/// A rule's definition, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleDefinition {
    /// A category.
    Category(CategoryRule),
    /// A tier.
    Tier(TierRule),
    /// An earn rule.
    EarnRule(EarnRule),
    /// A bonus.
    Bonus(BonusRule),
    /// A campaign.
    Campaign(CampaignRule),
}

/// A rule's code: lowercase letters, digits and '-', as partner codes.
pub type RuleCode = Code;

/// One version of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    /// What it is.
    pub kind: RuleKind,
    /// Its code.
    pub code: RuleCode,
    /// 1, 2, …
    pub version: i32,
    /// When it comes into force.
    pub effective_from: DateTime<Utc>,
    /// Its definition; `None` retires the rule from `effective_from`.
    pub definition: Option<RuleDefinition>,
    /// Who made it (an operator key id, or `cli:` and the machine user).
    pub created_by: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Why a rule (or a version of one) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum RuleError {
    /// The definition is not the JSON this kind of rule takes; the text says where.
    #[error("{0}")]
    DefinitionInvalid(String),
    /// The code is not a code.
    #[error("rule code {0:?} must be 1 to 63 lowercase letters, digits or '-'")]
    CodeInvalid(String),
    /// No rule of this kind has this code.
    #[error("no {0} rule {1:?}")]
    NotFound(RuleKind, String),
    /// A rule of this kind already has this code (change it instead).
    #[error("a {0} rule {1:?} exists already; add a version to change it")]
    Exists(RuleKind, String),
    /// The rule was retired; it cannot be changed or retired again.
    #[error("the {0} rule {1:?} is retired")]
    Retired(RuleKind, String),
    /// The version would start before (or with) the rule's last one, or in the past.
    #[error("{0}")]
    VersionOverlaps(String),
    /// A rate, multiplier, threshold, cap or points figure is out of range; the text names it.
    #[error("{0}")]
    AmountInvalid(String),
    /// A partner or branch named is not known.
    #[error("{0}")]
    PlaceUnknown(String),
    /// A category named is not a category in force.
    #[error("no category {0:?} is in force")]
    CategoryUnknown(String),
    /// A tier named is not a tier in force, or tiers would not have one rank 0 with threshold 0.
    #[error("{0}")]
    TierInvalid(String),
    /// The funders are not the operator and known partners with shares adding up to 1.
    #[error("{0}")]
    FundingInvalid(String),
    /// The campaign ends before it starts.
    #[error("the campaign must end after it starts")]
    CampaignWindowInvalid,
    /// A field the occasion needs is missing, or one it does not take is given.
    #[error("{0}")]
    OccasionInvalid(String),
}

impl RuleError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DefinitionInvalid(_) => "rule_definition_invalid",
            Self::CodeInvalid(_) => "rule_code_invalid",
            Self::NotFound(..) => "rule_not_found",
            Self::Exists(..) => "rule_exists",
            Self::Retired(..) => "rule_retired",
            Self::VersionOverlaps(_) => "rule_version_overlaps",
            Self::AmountInvalid(_) => "rule_amount_invalid",
            Self::PlaceUnknown(_) => "rule_place_unknown",
            Self::CategoryUnknown(_) => "rule_category_unknown",
            Self::TierInvalid(_) => "rule_tier_invalid",
            Self::FundingInvalid(_) => "rule_funding_invalid",
            Self::CampaignWindowInvalid => "campaign_window_invalid",
            Self::OccasionInvalid(_) => "bonus_occasion_invalid",
        }
    }
}

impl RuleDefinition {
    /// Reads a definition of `kind` from its JSON.
    pub fn parse(kind: RuleKind, json: serde_json::Value) -> Result<Self, RuleError> {
        fn read<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> Result<T, RuleError> {
            serde_json::from_value(json).map_err(|e| RuleError::DefinitionInvalid(e.to_string()))
        }
        Ok(match kind {
            RuleKind::Category => Self::Category(read(json)?),
            RuleKind::Tier => Self::Tier(read(json)?),
            RuleKind::EarnRule => Self::EarnRule(read(json)?),
            RuleKind::Bonus => Self::Bonus(read(json)?),
            RuleKind::Campaign => Self::Campaign(read(json)?),
        })
    }

    /// Its kind.
    pub fn kind(&self) -> RuleKind {
        match self {
            Self::Category(_) => RuleKind::Category,
            Self::Tier(_) => RuleKind::Tier,
            Self::EarnRule(_) => RuleKind::EarnRule,
            Self::Bonus(_) => RuleKind::Bonus,
            Self::Campaign(_) => RuleKind::Campaign,
        }
    }

    /// Its JSON, as stored and shown.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Self::Category(rule) => serde_json::to_value(rule),
            Self::Tier(rule) => serde_json::to_value(rule),
            Self::EarnRule(rule) => serde_json::to_value(rule),
            Self::Bonus(rule) => serde_json::to_value(rule),
            Self::Campaign(rule) => serde_json::to_value(rule),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

/// What a new version does: defines the rule (first or again), or retires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new rule: refused if one of its kind has the code.
    Create(RuleDefinition),
    /// A new definition of an existing rule.
    Amend(RuleDefinition),
    /// The rule stops applying.
    Retire,
}

/// The version `change` makes of the rule whose versions so far are `versions` (oldest first),
/// `made` by someone at a time, coming into force at `effective_from`, which must not be before
/// `earliest` (that time, plus the time every instance takes to read a change) and must be after
/// the rule's last version.
pub fn next_version(
    kind: RuleKind,
    code: RuleCode,
    versions: &[RuleVersion],
    change: Change,
    effective_from: DateTime<Utc>,
    earliest: DateTime<Utc>,
    made: (&str, DateTime<Utc>),
) -> Result<RuleVersion, RuleError> {
    let (created_by, now) = made;
    let missing = || RuleError::NotFound(kind, code.to_string());
    let definition = match (change, versions.last()) {
        (Change::Create(_), Some(_)) => return Err(RuleError::Exists(kind, code.to_string())),
        (Change::Create(definition), None) => Some(definition),
        (Change::Amend(_) | Change::Retire, None) => return Err(missing()),
        (_, Some(last)) if last.definition.is_none() => {
            return Err(RuleError::Retired(kind, code.to_string()));
        }
        (Change::Amend(definition), Some(_)) => Some(definition),
        (Change::Retire, Some(_)) => None,
    };
    if definition.as_ref().is_some_and(|d| d.kind() != kind) {
        return Err(RuleError::DefinitionInvalid(format!(
            "the definition is not a {kind}"
        )));
    }
    if effective_from < earliest {
        return Err(RuleError::VersionOverlaps(format!(
            "effective_from {effective_from} is too early; a version applies from {earliest} on \
             (now, plus the time every gateway takes to read the change)"
        )));
    }
    if let Some(last) = versions.last()
        && effective_from <= last.effective_from
    {
        return Err(RuleError::VersionOverlaps(format!(
            "version {} applies from {}; a new version must start after it",
            last.version, last.effective_from
        )));
    }
    Ok(RuleVersion {
        kind,
        code,
        version: versions.last().map_or(1, |last| last.version + 1),
        effective_from,
        definition,
        created_by: created_by.to_owned(),
        created_at: now,
    })
}

/// The versions in force at `at`: per rule, its last version from before `at`, unless that one
/// retired it. `versions` are every rule's, ordered by kind, code and version.
pub fn in_force(versions: &[RuleVersion], at: DateTime<Utc>) -> Vec<&RuleVersion> {
    let mut current: Vec<&RuleVersion> = Vec::new();
    for version in versions.iter().filter(|v| v.effective_from <= at) {
        match current.last_mut() {
            Some(last) if last.kind == version.kind && last.code == version.code => {
                *last = version;
            }
            _ => current.push(version),
        }
    }
    current.retain(|v| v.definition.is_some());
    current
}

/// Where a version stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum VersionStatus {
    /// Comes into force later.
    Scheduled,
    /// The rule's definition now.
    InForce,
    /// A later version is in force instead.
    Superseded,
    /// The version that retired the rule, in force.
    Retired,
}

impl VersionStatus {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Each version's status at `now`; `versions` ordered by kind, code and version.
pub fn statuses(versions: &[RuleVersion], now: DateTime<Utc>) -> Vec<VersionStatus> {
    versions
        .iter()
        .enumerate()
        .map(|(i, version)| {
            let next = versions
                .get(i + 1)
                .filter(|n| n.kind == version.kind && n.code == version.code);
            if version.effective_from > now {
                VersionStatus::Scheduled
            } else if next.is_some_and(|n| n.effective_from <= now) {
                VersionStatus::Superseded
            } else if version.definition.is_none() {
                VersionStatus::Retired
            } else {
                VersionStatus::InForce
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(name: &str) -> RuleDefinition {
        RuleDefinition::Category(CategoryRule {
            name: Names {
                en: name.into(),
                fa: name.into(),
            },
        })
    }

    #[test]
    fn versions_follow_each_other_and_never_start_in_the_past() {
        let now = crate::time::now();
        let code = Code::parse("food").unwrap();
        let next = |versions: &[RuleVersion], change, from| {
            next_version(
                RuleKind::Category,
                code.clone(),
                versions,
                change,
                from,
                now,
                ("test", now),
            )
        };
        let hour = chrono::Duration::hours(1);
        let first = next(&[], Change::Create(category("Food")), now).unwrap();
        assert_eq!(first.version, 1);
        let code_of = |r: Result<RuleVersion, RuleError>| r.unwrap_err().code();
        let versions = vec![first];
        assert_eq!(
            code_of(next(
                &versions,
                Change::Create(category("Food")),
                now + hour
            )),
            "rule_exists"
        );
        assert_eq!(
            code_of(next(&versions, Change::Amend(category("Meals")), now)),
            "rule_version_overlaps"
        );
        assert_eq!(
            code_of(next(&[], Change::Amend(category("Meals")), now)),
            "rule_not_found"
        );
        let second = next(&versions, Change::Amend(category("Meals")), now + hour).unwrap();
        assert_eq!(second.version, 2);
        let mut versions = versions;
        versions.push(second);
        let retired = next(&versions, Change::Retire, now + hour * 2).unwrap();
        assert_eq!(retired.definition, None);
        versions.push(retired);
        assert_eq!(
            code_of(next(
                &versions,
                Change::Amend(category("Food")),
                now + hour * 3
            )),
            "rule_retired"
        );
        // In force: nothing before the first, each version in its turn, nothing once retired.
        let names = |at| {
            in_force(&versions, at)
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(now - hour), Vec::<i32>::new());
        assert_eq!(names(now), [1]);
        assert_eq!(names(now + hour), [2]);
        assert_eq!(names(now + hour * 2), Vec::<i32>::new());
        let status = |at| {
            statuses(&versions, at)
                .into_iter()
                .map(VersionStatus::as_str)
                .collect::<Vec<_>>()
        };
        assert_eq!(status(now + hour), ["superseded", "in_force", "scheduled"]);
        assert_eq!(
            status(now + hour * 2),
            ["superseded", "superseded", "retired"]
        );
        let past = next_version(
            RuleKind::Category,
            Code::parse("rooms").unwrap(),
            &[],
            Change::Create(category("Rooms")),
            now - hour,
            now,
            ("test", now),
        );
        assert_eq!(code_of(past), "rule_version_overlaps");
    }
}
