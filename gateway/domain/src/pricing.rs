//! Point rules: how money becomes points at a partner, and what a point is worth there.
//!
//! Rounding (written down in `docs/ledger.md`): points earned are rounded **down**
//! to a whole point (a member never gets a point that was not fully paid for); a
//! discount is an exact product (points × value per point), so it needs no rounding.

use serde::{Deserialize, Serialize};

use crate::partners::BranchError;
use crate::points::{Currency, Money, Points};
use crate::program::earning::{self, PlacedRule};

/// A branch as the till prices at it: which branch, the rule in force there (if any) and the
/// partner's own bounds on one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPricing {
    /// The branch.
    pub branch_id: crate::ids::BranchId,
    /// The branch's rule, or the partner's.
    pub rule: Option<PointRule>,
    /// The partner's own limits, over the programme's.
    pub limits: crate::program::LimitOverrides,
}

/// A partner's (or branch's) rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointRule {
    /// The currency of the amounts.
    pub currency: Currency,
    /// Points earned per `per_amount_minor` spent.
    pub earn_points: i64,
    /// The amount, in minor units, that earns `earn_points`.
    pub per_amount_minor: i64,
    /// What one point takes off a bill, in minor units.
    pub point_value_minor: i64,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRule {
    /// Not a currency code.
    #[error("currency must be an ISO 4217 code such as IRR")]
    Currency,
    /// A negative or zero amount where one above zero is needed.
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
        let currency = Currency::parse(currency).map_err(|_| InvalidRule::Currency)?;
        if earn_points < 0 || per_amount_minor <= 0 || point_value_minor <= 0 {
            return Err(InvalidRule::Amounts);
        }
        Ok(Self {
            currency,
            earn_points,
            per_amount_minor,
            point_value_minor,
        })
    }

    /// Points a purchase of `amount_minor` earns, rounded down; `None` on overflow.
    pub fn points_for(&self, amount_minor: i64) -> Option<Points> {
        let points = i128::from(amount_minor) * i128::from(self.earn_points)
            / i128::from(self.per_amount_minor);
        i64::try_from(points).ok().map(Points)
    }

    /// The discount `points` buy; `None` on overflow.
    pub fn value_of(&self, points: Points) -> Option<Money> {
        points
            .get()
            .checked_mul(self.point_value_minor)
            .map(|minor| Money::new(minor, self.currency))
    }

    /// Refuses an amount in another currency than the rule's.
    pub fn check_currency(&self, amount: Money) -> Result<(), PricingError> {
        if amount.currency != self.currency {
            return Err(PricingError::CurrencyMismatch {
                expected: self.currency,
            });
        }
        Ok(())
    }

    /// Prices a redemption: the discount `points` buy.
    pub fn price_redemption(&self, points: Points) -> Result<Money, PricingError> {
        self.value_of(points).ok_or(PricingError::AmountTooLarge)
    }
}

/// What a purchase would earn and what points would buy at a branch; posts nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The rule in force at the branch.
    pub rule: PointRule,
    /// What the quoted purchase would earn.
    pub earn_points: Option<Points>,
    /// What the quoted points would take off the bill.
    pub discount: Option<Money>,
}

impl Quote {
    /// Prices a purchase amount with its basket `lines` (under `rule` and the `earn_rules` in
    /// force at the branch, before any member's caps and tier) and/or a number of points.
    pub fn new(
        rule: PointRule,
        (amount_minor, lines): (Option<i64>, &[earning::BasketLine]),
        points: Option<Points>,
        earn_rules: &[PlacedRule<'_>],
    ) -> Result<Self, PricingError> {
        let earn_points = amount_minor
            .map(|a| earning::quoted(&rule, a, lines, earn_rules).map(|e| e.points))
            .transpose()?;
        let discount = points.map(|p| rule.price_redemption(p)).transpose()?;
        Ok(Self {
            rule,
            earn_points,
            discount,
        })
    }
}

/// Why an amount or a number of points could not be priced at a branch.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum PricingError {
    /// The branch cannot be used.
    #[strum(disabled)]
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// Neither the branch nor its partner has a rule.
    #[error("this partner has no point rule for the branch; ask the operator to set one")]
    RuleMissing,
    /// The purchase is in another currency than the branch's.
    #[error("this branch works in {expected}")]
    CurrencyMismatch {
        /// The branch's currency.
        expected: Currency,
    },
    /// The purchase earns no whole point.
    #[error("the purchase is too small to earn a point")]
    PurchaseTooSmall,
    /// The amount does not fit the arithmetic.
    #[error("the amount is too large")]
    AmountTooLarge,
    /// The purchase is above the largest one earn may report (the partner's or the programme's).
    #[error("a purchase may be at most {max_minor} in minor units")]
    PurchaseAboveLimit {
        /// The largest purchase, in minor units.
        max_minor: i64,
    },
    /// The points are above the most one operation may move (the partner's or the programme's).
    #[error("one operation may move at most {max} points")]
    PointsAboveLimit {
        /// The most points in one operation.
        max: Points,
    },
}

impl PricingError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Branch(err) => err.code(),
            Self::RuleMissing => "point_rule_missing",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::PurchaseTooSmall => "purchase_too_small",
            Self::AmountTooLarge => "amount_too_large",
            Self::PurchaseAboveLimit { .. } => "purchase_above_limit",
            Self::PointsAboveLimit { .. } => "points_above_limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_down_and_discounts_are_exact() {
        // One point per 10,000 rials (IRR minor unit: 1/100 rial).
        let rule = PointRule::new("IRR", 1, 1_000_000, 50_000).unwrap();
        assert_eq!(rule.points_for(999_999), Some(Points(0)));
        assert_eq!(rule.points_for(1_000_000), Some(Points(1)));
        assert_eq!(rule.points_for(25_999_999), Some(Points(25)));
        assert_eq!(
            rule.value_of(Points(25)).map(|m| m.amount_minor),
            Some(1_250_000)
        );
        let fractional = PointRule::new("IRR", 3, 7, 1).unwrap();
        assert_eq!(fractional.points_for(10), Some(Points(4))); // 30 / 7 = 4.28…
        assert_eq!(
            PointRule::new("IRR", 1, 1, i64::MAX)
                .unwrap()
                .value_of(Points(2)),
            None
        );
        assert_eq!(PointRule::new("irr", 1, 1, 1), Err(InvalidRule::Currency));
        assert_eq!(PointRule::new("IRR", 1, 0, 1), Err(InvalidRule::Amounts));
    }

    #[test]
    fn a_purchase_is_priced_in_the_rules_currency_and_must_earn_a_point() {
        let rule = PointRule::new("IRR", 1, 1_000_000, 50_000).unwrap();
        let irr = Currency::parse("IRR").unwrap();
        assert_eq!(rule.check_currency(Money::new(2_500_000, irr)), Ok(()));
        assert_eq!(
            rule.check_currency(Money::new(2_500_000, Currency::parse("EUR").unwrap())),
            Err(PricingError::CurrencyMismatch { expected: irr })
        );
        let quote = |amount| {
            Quote::new(rule.clone(), (Some(amount), &[]), None, &[]).map(|q| q.earn_points)
        };
        assert_eq!(quote(2_500_000), Ok(Some(Points(2))));
        // A quote answers what a purchase too small for an earn would get: nothing.
        assert_eq!(quote(999_999), Ok(Some(Points::ZERO)));
    }
}
