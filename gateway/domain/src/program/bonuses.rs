//! Bonuses: which bonus rules an occasion meets, and who pays how many of their points.
//!
//! A bonus is awarded once per member, rule and occasion (its **occasion key**: `sign_up`,
//! `referral:<friend>`, `birthday:2027`, …); the ledger keeps that key with the award, so a
//! second award of the same key is refused however it is asked for.

use chrono::{DateTime, Utc};
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
    rules::in_force(versions, at)
        .into_iter()
        .filter_map(|version| match &version.definition {
            Some(RuleDefinition::Bonus(rule)) if rule.occasion == occasion => Some(Bonus {
                code: version.code.as_str(),
                rule,
            }),
            _ => None,
        })
        .collect()
}

/// `points` split between the rule's funders: each gets its share rounded down, and what
/// rounding leaves goes to the first funder named, so the parts always add up to `points`.
/// The operator pays it all when the rule names no funders. Funders whose part is zero are left
/// out.
pub fn split(points: i64, funding: &[Share]) -> Vec<(Funder, i64)> {
    let funder = |share: &Share| match share.funder.as_str() {
        "operator" => Funder::Operator,
        code => Funder::Partner(code.to_owned()),
    };
    if funding.is_empty() {
        return vec![(Funder::Operator, points)];
    }
    let mut parts: Vec<(Funder, i64)> = funding
        .iter()
        .map(|share| {
            let part = (Decimal::from(points) * share.share).floor();
            (funder(share), i64::try_from(part).unwrap_or(0))
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
