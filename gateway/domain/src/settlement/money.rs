//! Money of statement lines: points × rate, rounded once per line, half to even.
//!
//! Rounding per line (not per total) means every line in the lines file carries
//! the exact integer that is summed, so anyone can recompute the statement from
//! its lines without knowing the rates.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::ledger::TransferCode;

/// The line types of a statement, from the partner's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineType {
    /// Points the partner issued.
    Earn,
    /// Issued points taken back.
    EarnReversal,
    /// Points the partner accepted.
    Redemption,
    /// Accepted points given back.
    RedemptionReversal,
    /// A correction from a resolved dispute.
    Adjustment,
    /// Bonus points the partner funds (its share of a joint promotion).
    Bonus,
}

impl LineType {
    /// The line type that settles transfers with `code`; `None` for transfers no partner settles.
    pub fn from_code(code: TransferCode) -> Option<Self> {
        Some(match code {
            TransferCode::Earn => Self::Earn,
            TransferCode::EarnReversal => Self::EarnReversal,
            TransferCode::Redeem => Self::Redemption,
            TransferCode::RedeemReversal => Self::RedemptionReversal,
            TransferCode::Adjustment => Self::Adjustment,
            TransferCode::Bonus => Self::Bonus,
            TransferCode::Expiry => return None,
        })
    }

    /// The name in statements and lines files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earn => "earn",
            Self::EarnReversal => "earn_reversal",
            Self::Redemption => "redemption",
            Self::RedemptionReversal => "redemption_reversal",
            Self::Adjustment => "adjustment",
            Self::Bonus => "bonus",
        }
    }
}

/// Why a line's money cannot be computed.
#[derive(
    Debug, Clone, Default, thiserror::Error, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[error("{points} points × {rate} does not fit in 64-bit minor units")]
pub struct MoneyOverflow {
    /// The points of the line.
    pub points: i64,
    /// The rate they were priced at.
    pub rate: Decimal,
}

/// `points × rate` rounded half to even to a whole minor unit.
pub(crate) fn points_value(points: i64, rate: Decimal) -> Result<i64, MoneyOverflow> {
    Decimal::from(points)
        .checked_mul(rate)
        .map(|exact| exact.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven))
        .and_then(|rounded| i64::try_from(rounded).ok())
        .ok_or(MoneyOverflow { points, rate })
}

/// The signed money of a line: positive, the partner owes it; negative, it is owed.
///
/// `price` and `reimbursement` are the rates the line is settled at (for a reversal,
/// those of the terms its original was settled under).
pub(crate) fn line_money(
    line_type: LineType,
    points: i64,
    price: Decimal,
    reimbursement: Decimal,
) -> Result<i64, MoneyOverflow> {
    Ok(match line_type {
        LineType::Earn | LineType::Bonus => points_value(points, price)?,
        LineType::EarnReversal => -points_value(points, price)?,
        LineType::Redemption => -points_value(points, reimbursement)?,
        LineType::RedemptionReversal => points_value(points, reimbursement)?,
        // Adjustments carry their money; they are never priced.
        LineType::Adjustment => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn halves_round_to_even() {
        assert_eq!(points_value(1, rate("2.5")), Ok(2));
        assert_eq!(points_value(1, rate("3.5")), Ok(4));
        assert_eq!(points_value(3, rate("0.5")), Ok(2)); // 1.5 → 2
        assert_eq!(points_value(5, rate("0.5")), Ok(2)); // 2.5 → 2
        assert_eq!(points_value(7, rate("0.3333")), Ok(2)); // 2.3331 → 2
        assert_eq!(points_value(0, rate("12.5")), Ok(0));
    }

    #[test]
    fn signs_follow_who_pays() {
        let (price, reimbursement) = (rate("12.5"), rate("10"));
        assert_eq!(line_money(LineType::Earn, 3, price, reimbursement), Ok(38)); // 37.5 → 38
        assert_eq!(
            line_money(LineType::EarnReversal, 3, price, reimbursement),
            Ok(-38)
        );
        assert_eq!(
            line_money(LineType::Redemption, 7, price, reimbursement),
            Ok(-70)
        );
        assert_eq!(
            line_money(LineType::RedemptionReversal, 7, price, reimbursement),
            Ok(70)
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert!(points_value(i64::MAX, rate("100")).is_err());
    }
}
