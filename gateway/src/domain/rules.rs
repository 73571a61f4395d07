//! Point rules: how money becomes points at a partner, and what a point is worth there.
//!
//! Rounding (written down in `docs/ledger.md`): points earned are rounded **down**
//! to a whole point (a member never gets a point that was not fully paid for); a
//! discount is an exact product (points × value per point), so it needs no rounding.

use diesel_async::AsyncPgConnection;

use super::partners::{BranchId, PartnerId};
use crate::storage::{self, Storage, StorageError};

/// A partner's (or branch's) rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointRule {
    /// ISO 4217 currency of the amounts.
    pub currency: String,
    /// Points earned per `per_amount_minor` spent.
    pub earn_points: i64,
    pub per_amount_minor: i64,
    /// What one point takes off a bill, in minor units.
    pub point_value_minor: i64,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRule {
    #[error("currency must be an ISO 4217 code such as IRR")]
    Currency,
    #[error("earn points must be zero or more, the amount per step and the point value above zero")]
    Amounts,
}

impl PointRule {
    /// Validates a rule.
    pub fn new(
        currency: &str,
        earn_points: i64,
        per_amount_minor: i64,
        point_value_minor: i64,
    ) -> Result<Self, InvalidRule> {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(InvalidRule::Currency);
        }
        if earn_points < 0 || per_amount_minor <= 0 || point_value_minor <= 0 {
            return Err(InvalidRule::Amounts);
        }
        Ok(Self {
            currency: currency.to_owned(),
            earn_points,
            per_amount_minor,
            point_value_minor,
        })
    }

    /// Points a purchase of `amount_minor` earns, rounded down; `None` on overflow.
    pub fn points_for(&self, amount_minor: i64) -> Option<i64> {
        let points = i128::from(amount_minor) * i128::from(self.earn_points)
            / i128::from(self.per_amount_minor);
        i64::try_from(points).ok()
    }

    /// The discount `points` buy, in minor units; `None` on overflow.
    pub fn value_of(&self, points: i64) -> Option<i64> {
        points.checked_mul(self.point_value_minor)
    }
}

/// The rule in force at a branch: its own, else its partner's.
pub async fn for_branch(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    branch_id: BranchId,
) -> Result<Option<PointRule>, StorageError> {
    Ok(storage::rules::for_branch(conn, partner_id.0, branch_id.0)
        .await?
        .map(|row| PointRule {
            currency: row.currency,
            earn_points: row.earn_points,
            per_amount_minor: row.per_amount_minor,
            point_value_minor: row.point_value_minor,
        }))
}

/// The rule in force at the partner's branch (by code or id), cached for a few seconds.
pub async fn for_branch_cached(
    storage: &Storage,
    partner_id: PartnerId,
    branch: &str,
) -> Result<Option<PointRule>, super::ledger::LedgerError> {
    Ok(branch_rule_cached(storage, partner_id, branch).await?.1)
}

/// The partner's branch (by code or id) and the rule in force there, cached for a few seconds.
pub async fn branch_rule_cached(
    storage: &Storage,
    partner_id: PartnerId,
    branch: &str,
) -> Result<(BranchId, Option<PointRule>), super::ledger::LedgerError> {
    let key = (partner_id.0, branch.to_owned());
    if let Some((branch_id, rule)) = storage.card_cache().rules.get(&key).await {
        return Ok((BranchId(branch_id), rule));
    }
    let mut conn = storage.db().await?;
    let found = super::ledger::postings::branch_of(&mut conn, partner_id, branch).await?;
    let rule = for_branch(&mut conn, partner_id, found.id).await?;
    storage
        .card_cache()
        .rules
        .insert(key, (found.id.0, rule.clone()))
        .await;
    Ok((found.id, rule))
}

/// What a purchase would earn and what points would buy at a branch; posts nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub rule: PointRule,
    pub earn_points: Option<i64>,
    pub discount_minor: Option<i64>,
}

/// Prices a purchase amount and/or a number of points at the partner's branch.
pub async fn quote(
    storage: &Storage,
    partner_id: PartnerId,
    branch: &str,
    amount_minor: Option<i64>,
    points: Option<i64>,
) -> Result<Quote, super::ledger::LedgerError> {
    use super::ledger::LedgerError;
    let mut conn = storage.db().await?;
    let branch = super::ledger::postings::branch_of(&mut conn, partner_id, branch).await?;
    let rule = for_branch(&mut conn, partner_id, branch.id)
        .await?
        .ok_or(LedgerError::RuleMissing)?;
    let earn_points = amount_minor
        .map(|a| rule.points_for(a).ok_or(LedgerError::AmountTooLarge))
        .transpose()?;
    let discount_minor = points
        .map(|p| rule.value_of(p).ok_or(LedgerError::AmountTooLarge))
        .transpose()?;
    Ok(Quote {
        rule,
        earn_points,
        discount_minor,
    })
}

/// Sets the rule of a partner, or of one of its branches when `branch_id` is given.
pub async fn set(
    storage: &Storage,
    partner_id: PartnerId,
    branch_id: Option<BranchId>,
    rule: &PointRule,
) -> Result<(), StorageError> {
    let mut conn = storage.db().await?;
    storage::rules::upsert(
        &mut conn,
        &storage::rules::RuleRow {
            partner_id: partner_id.0,
            branch_id: branch_id.map(|b| b.0),
            currency: rule.currency.clone(),
            earn_points: rule.earn_points,
            per_amount_minor: rule.per_amount_minor,
            point_value_minor: rule.point_value_minor,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_down_and_discounts_are_exact() {
        // One point per 10,000 rials (IRR minor unit: 1/100 rial).
        let rule = PointRule::new("IRR", 1, 1_000_000, 50_000).unwrap();
        assert_eq!(rule.points_for(999_999), Some(0));
        assert_eq!(rule.points_for(1_000_000), Some(1));
        assert_eq!(rule.points_for(25_999_999), Some(25));
        assert_eq!(rule.value_of(25), Some(1_250_000));
        let fractional = PointRule::new("IRR", 3, 7, 1).unwrap();
        assert_eq!(fractional.points_for(10), Some(4)); // 30 / 7 = 4.28…
        assert_eq!(
            PointRule::new("IRR", 1, 1, i64::MAX).unwrap().value_of(2),
            None
        );
        assert_eq!(PointRule::new("irr", 1, 1, 1), Err(InvalidRule::Currency));
        assert_eq!(PointRule::new("IRR", 1, 0, 1), Err(InvalidRule::Amounts));
    }
}
