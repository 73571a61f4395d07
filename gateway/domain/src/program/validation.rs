//! Checks a rule's definition against itself and against what exists when it comes into force:
//! the partners and branches it names, the categories and tiers in force.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::rules::{
    BonusRule, CampaignAward, CampaignRule, EarnAward, EarnRule, Names, Occasion, RuleDefinition,
    RuleError, Scope, Segment, Share, TierRule,
};

/// The member profile fields a `profile_completed` bonus may name.
pub const PROFILE_FIELDS: [&str; 3] = ["name", "email", "birth_date"];

/// The largest points figure, multiplier or cap a rule may carry.
const MAX_POINTS: i64 = 1_000_000_000;
const MAX_FACTOR: i64 = 100;
const MAX_DAYS: u16 = 3660;

/// What exists when a rule version comes into force (not counting the rule itself).
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Partner codes, with their branches' codes.
    pub partners: BTreeMap<String, BTreeSet<String>>,
    /// Category codes in force.
    pub categories: BTreeSet<String>,
    /// Tier codes in force, with their ranks.
    pub tiers: BTreeMap<String, u8>,
}

/// Checks `definition` against itself and `known`.
pub fn validate(definition: &RuleDefinition, known: &Known) -> Result<(), RuleError> {
    match definition {
        RuleDefinition::Category(rule) => names("name", &rule.name),
        RuleDefinition::Tier(rule) => tier(rule, known),
        RuleDefinition::EarnRule(rule) => earn_rule(rule, known),
        RuleDefinition::Bonus(rule) => bonus(rule, known),
        RuleDefinition::Campaign(rule) => campaign(rule, known),
    }
}

fn invalid_definition(field: &str, why: impl std::fmt::Display) -> RuleError {
    RuleError::DefinitionInvalid(format!("{field}: {why}"))
}

fn amount(field: &str, why: &str) -> RuleError {
    RuleError::AmountInvalid(format!("{field} must be {why}"))
}

fn names(field: &str, names: &Names) -> Result<(), RuleError> {
    for (language, text) in [("en", &names.en), ("fa", &names.fa)] {
        let field = format!("{field}.{language}");
        crate::text::name(&field, text, 100).map_err(|e| invalid_definition(&field, e))?;
    }
    Ok(())
}

fn points(field: &str, value: i64) -> Result<(), RuleError> {
    if (1..=MAX_POINTS).contains(&value) {
        Ok(())
    } else {
        Err(amount(field, "1 to 1,000,000,000"))
    }
}

fn factor(field: &str, value: Decimal, at_least: Decimal) -> Result<(), RuleError> {
    // A few decimal places keep a purchase's exact points within 128-bit fractions.
    if value >= at_least && value <= Decimal::from(MAX_FACTOR) && value.normalize().scale() <= 4 {
        Ok(())
    } else {
        Err(amount(
            field,
            &format!("{at_least} to {MAX_FACTOR}, with at most 4 decimal places"),
        ))
    }
}

fn days(field: &str, value: u16, at_least: u16) -> Result<(), RuleError> {
    if (at_least..=MAX_DAYS).contains(&value) {
        Ok(())
    } else {
        Err(amount(field, &format!("{at_least} to {MAX_DAYS} days")))
    }
}

fn tier(rule: &TierRule, known: &Known) -> Result<(), RuleError> {
    names("name", &rule.name)?;
    for (i, benefit) in rule.benefits.iter().enumerate() {
        names(&format!("benefits[{i}]"), benefit)?;
    }
    match (rule.rank, rule.threshold) {
        (0, 0) => {}
        (0, _) => return Err(amount("threshold", "0 for the rank 0 tier")),
        (_, threshold) if !(1..=i64::MAX / 2).contains(&threshold) => {
            return Err(amount("threshold", "above 0 for a tier above rank 0"));
        }
        _ => {}
    }
    days("window_days", rule.window_days, 1)?;
    days("grace_days", rule.grace_days, 0)?;
    factor("earn_multiplier", rule.earn_multiplier, Decimal::ONE)?;
    if let Some((code, _)) = known.tiers.iter().find(|(_, rank)| **rank == rule.rank) {
        return Err(RuleError::TierInvalid(format!(
            "the tier {code:?} already has rank {}",
            rule.rank
        )));
    }
    Ok(())
}

fn scope(scope: &Scope, known: &Known) -> Result<(), RuleError> {
    place(scope.partner.as_deref(), scope.branch.as_deref(), known)?;
    if let Some(category) = &scope.category
        && !known.categories.contains(category)
    {
        return Err(RuleError::CategoryUnknown(category.clone()));
    }
    Ok(())
}

fn place(partner: Option<&str>, branch: Option<&str>, known: &Known) -> Result<(), RuleError> {
    match (partner, branch) {
        (None, None) => Ok(()),
        (None, Some(branch)) => Err(RuleError::PlaceUnknown(format!(
            "branch {branch:?} needs its partner"
        ))),
        (Some(partner), branch) => {
            let branches = known
                .partners
                .get(partner)
                .ok_or_else(|| RuleError::PlaceUnknown(format!("no partner {partner:?}")))?;
            match branch {
                Some(branch) if !branches.contains(branch) => Err(RuleError::PlaceUnknown(
                    format!("partner {partner:?} has no branch {branch:?}"),
                )),
                _ => Ok(()),
            }
        }
    }
}

fn earn_rule(rule: &EarnRule, known: &Known) -> Result<(), RuleError> {
    scope(&rule.scope, known)?;
    match &rule.award {
        EarnAward::Rate {
            points,
            per_amount_minor,
        } => {
            if !(0..=MAX_POINTS).contains(points) {
                return Err(amount("award.rate.points", "0 to 1,000,000,000"));
            }
            if *per_amount_minor <= 0 {
                return Err(amount("award.rate.per_amount_minor", "above 0"));
            }
        }
        EarnAward::Multiplier { factor: f, .. } => {
            factor("award.multiplier.factor", *f, Decimal::ONE)?
        }
    }
    if rule.min_purchase_minor < 0 {
        return Err(amount("min_purchase_minor", "0 or more"));
    }
    if let Some(cap) = rule.cap_per_day {
        points("cap_per_day", cap)?;
    }
    if let Some(cap) = rule.cap_per_month {
        points("cap_per_month", cap)?;
    }
    Ok(())
}

fn funding(shares: &[Share], known: &Known) -> Result<(), RuleError> {
    if shares.is_empty() {
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    let mut total = Decimal::ZERO;
    for share in shares {
        if share.funder != "operator" && !known.partners.contains_key(&share.funder) {
            return Err(RuleError::FundingInvalid(format!(
                "funder {:?} is neither \"operator\" nor a partner",
                share.funder
            )));
        }
        if !seen.insert(share.funder.as_str()) {
            return Err(RuleError::FundingInvalid(format!(
                "funder {:?} is named twice",
                share.funder
            )));
        }
        if share.share <= Decimal::ZERO || share.share > Decimal::ONE {
            return Err(RuleError::FundingInvalid(
                "each share must be above 0 and at most 1".into(),
            ));
        }
        total += share.share;
    }
    if total != Decimal::ONE {
        return Err(RuleError::FundingInvalid(format!(
            "the shares add up to {total}, not 1"
        )));
    }
    Ok(())
}

fn bonus(rule: &BonusRule, known: &Known) -> Result<(), RuleError> {
    points("points", rule.points)?;
    funding(&rule.funding, known)?;
    let needs = |field: &str| {
        RuleError::OccasionInvalid(format!("a {} bonus needs {field}", rule.occasion))
    };
    let takes_no = |field: &str| {
        RuleError::OccasionInvalid(format!("a {} bonus takes no {field}", rule.occasion))
    };
    match (rule.occasion, &rule.event_type) {
        (Occasion::Event, None) => return Err(needs("event_type")),
        (Occasion::Event, Some(event)) => {
            crate::partners::Code::parse(event)
                .map_err(|_| invalid_definition("event_type", "not a code"))?;
        }
        (_, Some(_)) => return Err(takes_no("event_type")),
        _ => {}
    }
    match (rule.occasion, rule.profile_fields.is_empty()) {
        (Occasion::ProfileCompleted, true) => return Err(needs("profile_fields")),
        (Occasion::ProfileCompleted, false) => {
            if let Some(field) = rule
                .profile_fields
                .iter()
                .find(|f| !PROFILE_FIELDS.contains(&f.as_str()))
            {
                return Err(RuleError::OccasionInvalid(format!(
                    "{field:?} is not a profile field ({})",
                    PROFILE_FIELDS.join(", ")
                )));
            }
        }
        (_, false) => return Err(takes_no("profile_fields")),
        _ => {}
    }
    match (rule.occasion, rule.visits, rule.within_days) {
        (Occasion::RepeatVisit, Some(visits), Some(within)) => {
            if !(2..=1000).contains(&visits) {
                return Err(amount("visits", "2 to 1000"));
            }
            days("within_days", within, 1)?;
        }
        (Occasion::RepeatVisit, _, _) => return Err(needs("visits and within_days")),
        (_, None, None) => {}
        _ => return Err(takes_no("visits or within_days")),
    }
    Ok(())
}

fn segment(segment: &Segment, known: &Known) -> Result<(), RuleError> {
    if let Some(tier) = segment.tiers.iter().find(|t| !known.tiers.contains_key(*t)) {
        return Err(RuleError::TierInvalid(format!(
            "no tier {tier:?} is in force"
        )));
    }
    place(
        segment.home_partner.as_deref(),
        segment.home_branch.as_deref(),
        known,
    )?;
    if let Some(city) = &segment.city {
        crate::text::name("segment.city", city, 100)
            .map_err(|e| invalid_definition("segment.city", e))?;
    }
    for (field, value) in [
        ("segment.inactive_days", segment.inactive_days),
        ("segment.enrolled_within_days", segment.enrolled_within_days),
    ] {
        if let Some(value) = value {
            days(field, value, 1)?;
        }
    }
    Ok(())
}

fn campaign(rule: &CampaignRule, known: &Known) -> Result<(), RuleError> {
    names("name", &rule.name)?;
    if rule.ends_at <= rule.starts_at {
        return Err(RuleError::CampaignWindowInvalid);
    }
    match rule.award {
        CampaignAward::Points(p) => points("award.points", p)?,
        CampaignAward::Multiplier(m) => factor("award.multiplier", m, Decimal::ONE)?,
    }
    scope(&rule.scope, known)?;
    segment(&rule.segment, known)?;
    // Not evaluated yet (docs/program.md, "Not built yet"): refused rather than ignored.
    let unsupported = [(
        rule.scope.category.is_some(),
        "where.category (a campaign sees an earn's base points, not its lines)",
    )];
    if let Some((_, what)) = unsupported.iter().find(|(given, _)| *given) {
        return Err(RuleError::DefinitionInvalid(format!(
            "a campaign cannot use {what} yet"
        )));
    }
    if let Some(budget) = rule.budget_points {
        points("budget_points", budget)?;
    }
    funding(&rule.funding, known)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::program::rules::RuleKind;

    fn known() -> Known {
        Known {
            partners: [("restaurant".to_owned(), ["main".to_owned()].into())].into(),
            categories: ["food".to_owned()].into(),
            tiers: [("bronze".to_owned(), 0)].into(),
        }
    }

    /// The code a definition is refused with, or `None` if it is accepted.
    fn refusal(kind: RuleKind, definition: serde_json::Value) -> Option<&'static str> {
        RuleDefinition::parse(kind, definition)
            .and_then(|d| validate(&d, &known()))
            .err()
            .map(|e| e.code())
    }

    #[test]
    fn bad_definitions_are_refused_with_their_codes() {
        let names = json!({"en": "Weekend", "fa": "آخر هفته"});
        let rate =
            |points: i64| json!({"award": {"rate": {"points": points, "per_amount_minor": 10000}}});
        let earn_rule = RuleKind::EarnRule;
        assert_eq!(refusal(earn_rule, rate(2)), None);
        assert_eq!(refusal(earn_rule, rate(-1)), Some("rule_amount_invalid"));
        assert_eq!(
            refusal(
                earn_rule,
                json!({"award": {"multiplier": {"factor": "-1.5", "stacking": "best"}}})
            ),
            Some("rule_amount_invalid")
        );
        assert_eq!(
            refusal(
                earn_rule,
                json!({"where": {"category": "toys"}, "award": {"multiplier": {"factor": "2", "stacking": "stack"}}})
            ),
            Some("rule_category_unknown")
        );
        // Multipliers are at least 1 (a lower earn is a rate) with at most 4 decimal places.
        for factor in ["0.5", "1.00001"] {
            assert_eq!(
                refusal(
                    earn_rule,
                    json!({"award": {"multiplier": {"factor": factor, "stacking": "stack"}}})
                ),
                Some("rule_amount_invalid"),
                "{factor}"
            );
        }
        assert_eq!(
            refusal(
                earn_rule,
                json!({"where": {"partner": "restaurant", "branch": "roof"}, "award": {"multiplier": {"factor": "2", "stacking": "stack"}}})
            ),
            Some("rule_place_unknown")
        );
        assert_eq!(
            refusal(earn_rule, json!({"award": {}})),
            Some("rule_definition_invalid")
        );
        assert_eq!(
            refusal(
                earn_rule,
                json!({"award": {"rate": {"points": 1, "per_amount_minor": 1}}, "colour": "red"})
            ),
            Some("rule_definition_invalid")
        );

        let campaign = |starts: &str, ends: &str, funding: serde_json::Value| {
            json!({"name": names, "starts_at": starts, "ends_at": ends, "award": {"multiplier": "2"},
                   "where": {"partner": "restaurant"}, "days": ["thursday", "Fri"], "funding": funding})
        };
        let half = json!([{"funder": "restaurant", "share": "0.5"}, {"funder": "operator", "share": "0.5"}]);
        assert_eq!(
            refusal(
                RuleKind::Campaign,
                campaign("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", half.clone())
            ),
            None
        );
        assert_eq!(
            refusal(
                RuleKind::Campaign,
                campaign("2027-02-01T00:00:00Z", "2027-01-01T00:00:00Z", half)
            ),
            Some("campaign_window_invalid")
        );
        assert_eq!(
            refusal(
                RuleKind::Campaign,
                campaign(
                    "2027-01-01T00:00:00Z",
                    "2027-02-01T00:00:00Z",
                    json!([{"funder": "restaurant", "share": "0.5"}])
                )
            ),
            Some("rule_funding_invalid")
        );

        let tier = |rank: u8, threshold: i64| {
            json!({"name": names, "rank": rank, "measure": "points", "threshold": threshold,
                   "window_days": 365, "grace_days": 30, "earn_multiplier": "1.25"})
        };
        assert_eq!(refusal(RuleKind::Tier, tier(1, 1000)), None);
        assert_eq!(
            refusal(RuleKind::Tier, tier(0, 0)),
            Some("rule_tier_invalid")
        );
        assert_eq!(
            refusal(RuleKind::Tier, tier(2, 0)),
            Some("rule_amount_invalid")
        );

        let bonus = |occasion: &str, extra: serde_json::Value| {
            let mut rule = json!({"occasion": occasion, "points": 100});
            rule.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            rule
        };
        assert_eq!(refusal(RuleKind::Bonus, bonus("sign_up", json!({}))), None);
        assert_eq!(
            refusal(RuleKind::Bonus, bonus("event", json!({}))),
            Some("bonus_occasion_invalid")
        );
        assert_eq!(
            refusal(
                RuleKind::Bonus,
                bonus("event", json!({"event_type": "review"}))
            ),
            None
        );
        assert_eq!(
            refusal(
                RuleKind::Bonus,
                bonus(
                    "profile_completed",
                    json!({"profile_fields": ["shoe_size"]})
                )
            ),
            Some("bonus_occasion_invalid")
        );
        assert_eq!(
            refusal(
                RuleKind::Bonus,
                bonus("repeat_visit", json!({"visits": 5, "within_days": 30}))
            ),
            None
        );
    }
}
