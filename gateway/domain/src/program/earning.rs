//! What a purchase earns under the earn rules: the one rule of how they combine (written down
//! in `docs/program.md`, "Earn rules at work").
//!
//! Per basket line (a purchase without lines is one line of its whole amount, without a
//! category), exactly, in fractions:
//!
//! 1. **the rate**: the highest of the `rate` rules that match the line, in place of the
//!    partner's (or branch's) own rate; the partner's rate when none matches;
//! 2. **the multipliers**: every matching `stack` multiplier adds `rate × (factor − 1)`; of the
//!    matching `best` multipliers only the highest adds its `rate × (factor − 1)`.
//!
//! The purchase's points are the lines' sum, rounded down once. What a rule adds over the
//! partner's rate (its **share**, rounded down) is what its caps limit: the books take off what
//! a capped rule would give beyond what is left of its caps for the member's day and month.

use chrono::NaiveDate;
use num_rational::Ratio;
use num_traits::{CheckedAdd as _, CheckedMul as _, CheckedSub as _};
use rust_decimal::Decimal;

use super::rules::{Basis, EarnAward, EarnRule, Stacking};
use crate::points::Points;
use crate::pricing::{PointRule, PricingError};

/// The most lines a basket may have.
pub const MAX_LINES: usize = 100;

/// A line of a purchase's basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    /// The product category's code (a `category` rule in force).
    pub category: String,
    /// What was paid for the line, in minor units (above zero).
    pub amount_minor: i64,
    /// The partner's margin on it, in minor units (0 to `amount_minor`).
    pub margin_minor: Option<i64>,
}

impl From<partners::protocol::BasketLine> for BasketLine {
    fn from(line: partners::protocol::BasketLine) -> Self {
        Self {
            category: line.category,
            amount_minor: line.amount_minor,
            margin_minor: line.margin_minor,
        }
    }
}

/// Why a basket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasketError {
    /// A line is out of range; the text says which and why.
    #[error("{0}")]
    LineInvalid(String),
    /// The lines do not add up to the purchase.
    #[error("the basket lines add up to {lines_minor}, the purchase is {amount_minor}")]
    TotalMismatch {
        /// The lines' sum.
        lines_minor: i128,
        /// The purchase amount.
        amount_minor: i64,
    },
}

/// Checks a basket against its purchase `amount_minor`: at most [`MAX_LINES`] lines, each above
/// zero with a margin within it, adding up to the purchase exactly (an empty basket is the whole
/// purchase).
pub fn check_basket(lines: &[BasketLine], amount_minor: i64) -> Result<(), BasketError> {
    if lines.is_empty() {
        return Ok(());
    }
    if lines.len() > MAX_LINES {
        return Err(BasketError::LineInvalid(format!(
            "a basket may have at most {MAX_LINES} lines"
        )));
    }
    for (i, line) in lines.iter().enumerate() {
        if crate::partners::Code::parse(&line.category).is_err() {
            return Err(BasketError::LineInvalid(format!(
                "lines[{i}].category must be a category's code"
            )));
        }
        if line.amount_minor <= 0 {
            return Err(BasketError::LineInvalid(format!(
                "lines[{i}].amount_minor must be above zero"
            )));
        }
        if line
            .margin_minor
            .is_some_and(|m| !(0..=line.amount_minor).contains(&m))
        {
            return Err(BasketError::LineInvalid(format!(
                "lines[{i}].margin_minor must be 0 to the line's amount"
            )));
        }
    }
    let lines_minor: i128 = lines.iter().map(|l| i128::from(l.amount_minor)).sum();
    if lines_minor != i128::from(amount_minor) {
        return Err(BasketError::TotalMismatch {
            lines_minor,
            amount_minor,
        });
    }
    Ok(())
}

/// An earn rule in force where the purchase is made (its partner and branch matched).
#[derive(Debug, Clone, Copy)]
pub struct PlacedRule<'r> {
    /// Its code.
    pub code: &'r str,
    /// Its definition.
    pub rule: &'r EarnRule,
}

/// What a capped rule adds to a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CappedShare {
    /// The rule's code.
    pub rule: String,
    /// What it adds over the partner's rate, rounded down (above zero).
    pub points: i64,
    /// Its cap per member and local day.
    pub per_day: Option<i64>,
    /// Its cap per member and calendar month.
    pub per_month: Option<i64>,
}

/// What a purchase earns under the rules, before caps and the member's tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    /// Its points, the lines' exact sum rounded down.
    pub points: Points,
    /// What each capped rule adds (the books hold it to the caps).
    pub capped: Vec<CappedShare>,
}

type Exact = Ratio<i128>;

fn exact(value: Decimal) -> Option<Exact> {
    let denominator = 10_i128.checked_pow(value.scale())?;
    Some(Exact::new(value.mantissa(), denominator))
}

/// `basis × points / per_amount`, exactly.
fn rate(basis: i64, points: i64, per_amount_minor: i64) -> Option<Exact> {
    let numerator = i128::from(basis).checked_mul(i128::from(points))?;
    Some(Exact::new(numerator, i128::from(per_amount_minor)))
}

fn floor(value: Exact) -> i64 {
    i64::try_from(value.floor().to_integer()).unwrap_or(i64::MAX)
}

/// What a purchase of `amount_minor` with `lines` earns at a place whose own rate is `base`,
/// under `rules` (in force there). Refused when it earns no whole point, or when the arithmetic
/// would overflow.
pub fn earn(
    base: &PointRule,
    amount_minor: i64,
    lines: &[BasketLine],
    rules: &[PlacedRule<'_>],
) -> Result<Earning, PricingError> {
    let too_large = || PricingError::AmountTooLarge;
    if rules.is_empty() {
        // No rule: the partner's rate on the whole purchase, as it always was.
        let points = base.points_for(amount_minor).ok_or_else(too_large)?;
        return earned(points, Vec::new());
    }
    let whole = [BasketLine {
        category: String::new(),
        amount_minor,
        margin_minor: None,
    }];
    let (lines, categorised) = if lines.is_empty() {
        (&whole[..], false)
    } else {
        (lines, true)
    };
    let rules: Vec<&PlacedRule<'_>> = rules
        .iter()
        .filter(|r| amount_minor >= r.rule.min_purchase_minor)
        .collect();
    let mut total = Exact::default();
    let mut shares: Vec<Exact> = vec![Exact::default(); rules.len()];
    for line in lines {
        let matching = rules.iter().enumerate().filter(|(_, r)| {
            r.rule
                .scope
                .category
                .as_deref()
                .is_none_or(|c| categorised && c == line.category)
        });
        let own = rate(line.amount_minor, base.earn_points, base.per_amount_minor)
            .ok_or_else(too_large)?;
        // 1. The rate: the highest matching rate rule's, or the partner's.
        let mut line_rate = own;
        let mut rate_rule = None;
        for (i, placed) in matching.clone() {
            let EarnAward::Rate {
                points,
                per_amount_minor,
            } = placed.rule.award
            else {
                continue;
            };
            let basis = match placed.rule.basis {
                Basis::Amount => line.amount_minor,
                Basis::Margin => match line.margin_minor {
                    Some(margin) => margin,
                    None => continue,
                },
            };
            let value = rate(basis, points, per_amount_minor).ok_or_else(too_large)?;
            if rate_rule.is_none() || value > line_rate {
                line_rate = value;
                rate_rule = Some(i);
            }
        }
        if let Some(i) = rate_rule {
            let over_own = line_rate.checked_sub(&own).ok_or_else(too_large)?;
            shares[i] = shares[i].checked_add(&over_own).ok_or_else(too_large)?;
        }
        // 2. The multipliers: every `stack` one's extra, and the highest `best` one's.
        let mut line_total = line_rate;
        let mut best: Option<(usize, Exact)> = None;
        for (i, placed) in matching {
            let EarnAward::Multiplier { factor, stacking } = placed.rule.award else {
                continue;
            };
            let factor = exact(factor).ok_or_else(too_large)?;
            match stacking {
                Stacking::Stack => {
                    let extra = line_rate.checked_mul(&(factor - 1)).ok_or_else(too_large)?;
                    line_total = line_total.checked_add(&extra).ok_or_else(too_large)?;
                    shares[i] = shares[i].checked_add(&extra).ok_or_else(too_large)?;
                }
                Stacking::Best => {
                    if best.is_none_or(|(_, highest)| factor > highest) {
                        best = Some((i, factor));
                    }
                }
            }
        }
        if let Some((i, factor)) = best {
            let extra = line_rate.checked_mul(&(factor - 1)).ok_or_else(too_large)?;
            line_total = line_total.checked_add(&extra).ok_or_else(too_large)?;
            shares[i] = shares[i].checked_add(&extra).ok_or_else(too_large)?;
        }
        total = total.checked_add(&line_total).ok_or_else(too_large)?;
    }
    let capped = rules
        .iter()
        .zip(shares)
        .filter(|(r, _)| r.rule.cap_per_day.is_some() || r.rule.cap_per_month.is_some())
        .map(|(r, share)| CappedShare {
            rule: r.code.to_owned(),
            points: floor(share),
            per_day: r.rule.cap_per_day,
            per_month: r.rule.cap_per_month,
        })
        .filter(|share| share.points > 0)
        .collect();
    earned(Points(floor(total)), capped)
}

/// `points`, of a purchase on local `day` in `month` (its local days), held to the caps of
/// `capped`: each share gives at most what is left of its caps, given the points its rule gave
/// the member before (`given`: per local day; the day's and the whole month's count, later days
/// of the month included, so a late earn cannot go past a cap). Returns the points and what each
/// rule gives (its code, points).
pub fn hold_to_caps<I: IntoIterator<Item = (NaiveDate, i64)>>(
    points: Points,
    capped: &[CappedShare],
    (day, month): (NaiveDate, std::ops::Range<NaiveDate>),
    given: impl Fn(&str) -> I,
) -> (i64, Vec<(&str, i64)>) {
    let mut points = points.get();
    let mut held = Vec::with_capacity(capped.len());
    for share in capped {
        let (mut on_day, mut in_month) = (0, 0);
        for (d, p) in given(&share.rule) {
            if month.contains(&d) {
                in_month += p;
                if d == day {
                    on_day += p;
                }
            }
        }
        let left = [
            share.per_day.map(|cap| cap - on_day),
            share.per_month.map(|cap| cap - in_month),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(i64::MAX)
        .max(0);
        let give = share.points.min(left);
        points -= share.points - give;
        held.push((share.rule.as_str(), give));
    }
    (points, held)
}

/// What a quote says a purchase of `amount_minor` with `lines` earns under `rules`: as [`earn`],
/// but nothing, rather than a refusal, when it is too small to earn a point.
pub fn quoted(
    base: &PointRule,
    amount_minor: i64,
    lines: &[BasketLine],
    rules: &[PlacedRule<'_>],
) -> Result<Earning, PricingError> {
    match earn(base, amount_minor, lines, rules) {
        Err(PricingError::PurchaseTooSmall) => Ok(Earning {
            points: Points::ZERO,
            capped: Vec::new(),
        }),
        earned => earned,
    }
}

fn earned(points: Points, capped: Vec<CappedShare>) -> Result<Earning, PricingError> {
    if !points.is_positive() {
        return Err(PricingError::PurchaseTooSmall);
    }
    Ok(Earning { points, capped })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::program::rules::{EarnAward, Scope};

    /// One point per 1,000,000 minor units (10,000 rials).
    fn base() -> PointRule {
        PointRule::new("IRR", 1, 1_000_000, 50_000).unwrap()
    }

    fn rule(category: Option<&str>, basis: Basis, award: EarnAward) -> EarnRule {
        EarnRule {
            scope: Scope {
                category: category.map(str::to_owned),
                ..Scope::default()
            },
            basis,
            award,
            min_purchase_minor: 0,
            cap_per_day: None,
            cap_per_month: None,
        }
    }

    fn rate(points: i64, per_amount_minor: i64) -> EarnAward {
        EarnAward::Rate {
            points,
            per_amount_minor,
        }
    }

    fn times(factor: &str, stacking: Stacking) -> EarnAward {
        EarnAward::Multiplier {
            factor: factor.parse().unwrap(),
            stacking,
        }
    }

    fn line(category: &str, amount_minor: i64, margin_minor: Option<i64>) -> BasketLine {
        BasketLine {
            category: category.into(),
            amount_minor,
            margin_minor,
        }
    }

    fn placed<'r>(rules: &'r [(&'r str, EarnRule)]) -> Vec<PlacedRule<'r>> {
        rules
            .iter()
            .map(|(code, rule)| PlacedRule { code, rule })
            .collect()
    }

    #[test]
    fn rates_replace_the_partners_and_multipliers_stack_or_compete_per_line() {
        let mut rooms = rule(Some("rooms"), Basis::Amount, rate(3, 1_000_000));
        rooms.cap_per_day = Some(100);
        let mut best = rule(Some("food"), Basis::Amount, times("3", Stacking::Best));
        best.cap_per_month = Some(1_000);
        let rules = [
            ("best-food", best),
            (
                "better-food",
                rule(Some("food"), Basis::Amount, times("1.5", Stacking::Best)),
            ),
            (
                "double",
                rule(None, Basis::Amount, times("2", Stacking::Stack)),
            ),
            (
                "food-margin",
                rule(Some("food"), Basis::Margin, rate(10, 1_000_000)),
            ),
            ("rooms", rooms),
        ];
        let lines = [
            line("food", 3_000_000, Some(1_000_000)),
            line("rooms", 7_000_000, None),
        ];
        let earning = earn(&base(), 10_000_000, &lines, &placed(&rules)).unwrap();
        // food: margin rate 10 (own 3), + 10 (double) + 20 (best of 3 and 1.5) = 40;
        // rooms: rate 21 (own 7), + 21 (double) = 42.
        assert_eq!(earning.points, Points(82));
        assert_eq!(
            earning.capped,
            [
                CappedShare {
                    rule: "best-food".into(),
                    points: 20,
                    per_day: None,
                    per_month: Some(1_000),
                },
                CappedShare {
                    rule: "rooms".into(),
                    points: 14,
                    per_day: Some(100),
                    per_month: None,
                },
            ]
        );
    }

    #[test]
    fn points_are_rounded_down_once_for_the_whole_basket() {
        let third = PointRule::new("IRR", 1, 3, 1).unwrap();
        let rules = [("other", rule(Some("toys"), Basis::Amount, rate(9, 1)))];
        let lines = [
            line("food", 1, None),
            line("food", 1, None),
            line("food", 1, None),
        ];
        // 1/3 + 1/3 + 1/3 is one point, where rounding each line would give none.
        let earning = earn(&third, 3, &lines, &placed(&rules)).unwrap();
        assert_eq!(earning.points, Points(1));
        let half = [(
            "half-more",
            rule(None, Basis::Amount, times("1.5", Stacking::Stack)),
        )];
        // 1/3 × 1.5 = 1/2 → nothing.
        assert_eq!(
            earn(&third, 1, &[], &placed(&half)),
            Err(PricingError::PurchaseTooSmall)
        );
    }

    #[test]
    fn rules_apply_only_where_they_match() {
        let mut big = rule(None, Basis::Amount, times("2", Stacking::Stack));
        big.min_purchase_minor = 5_000_000;
        let rules = [
            ("big-baskets", big),
            (
                "food-double",
                rule(Some("food"), Basis::Amount, times("2", Stacking::Stack)),
            ),
            ("margin", rule(None, Basis::Margin, rate(50, 1_000_000))),
        ];
        // Below the minimum, without a category or a margin: the partner's rate alone.
        let plain = earn(&base(), 4_000_000, &[], &placed(&rules)).unwrap();
        assert_eq!(
            plain,
            Earning {
                points: Points(4),
                capped: Vec::new()
            }
        );
        // A margin line takes the margin rate (a rate may be below the partner's too).
        let low_margin = [line("food", 4_000_000, Some(0))];
        let earning = earn(&base(), 4_000_000, &low_margin, &placed(&rules));
        assert_eq!(earning, Err(PricingError::PurchaseTooSmall));
        let lines = [line("food", 4_000_000, None)];
        let earning = earn(&base(), 4_000_000, &lines, &placed(&rules)).unwrap();
        assert_eq!(earning.points, Points(8));
    }

    #[test]
    fn a_basket_must_add_up_and_its_lines_be_in_range() {
        assert_eq!(check_basket(&[], 5), Ok(()));
        assert_eq!(
            check_basket(&[line("food", 2, Some(2)), line("rooms", 3, None)], 5),
            Ok(())
        );
        assert!(matches!(
            check_basket(&[line("food", 2, None)], 5),
            Err(BasketError::TotalMismatch {
                lines_minor: 2,
                amount_minor: 5
            })
        ));
        for bad in [
            line("food", 0, None),
            line("food", 5, Some(6)),
            line("Food!", 5, None),
        ] {
            assert!(matches!(
                check_basket(&[bad], 5),
                Err(BasketError::LineInvalid(_))
            ));
        }
        let many = vec![line("food", 1, None); MAX_LINES + 1];
        assert!(matches!(
            check_basket(&many, 101),
            Err(BasketError::LineInvalid(_))
        ));
    }

    proptest! {
        /// Without rules a purchase earns the partner's rate on its amount, as before earn rules;
        /// with rules that match no line, however the basket is split, the same.
        #[test]
        fn rules_that_do_not_match_change_nothing(
            amounts in prop::collection::vec(1..50_000_000_i64, 1..8),
            earn_points in 1..10_i64,
            per_amount in 1..5_000_000_i64,
        ) {
            let base = PointRule::new("IRR", earn_points, per_amount, 1).unwrap();
            let total: i64 = amounts.iter().sum();
            let lines: Vec<BasketLine> = amounts.iter().map(|a| line("food", *a, None)).collect();
            let elsewhere = [("toys", rule(Some("toys"), Basis::Amount, rate(100, 1)))];
            let alone = earn(&base, total, &[], &[]).map(|e| e.points);
            prop_assert_eq!(alone.clone().ok(), base.points_for(total).filter(|p| p.is_positive()));
            prop_assert_eq!(earn(&base, total, &lines, &placed(&elsewhere)).map(|e| e.points), alone);
        }

        /// A `stack` multiplier adds its extra to the rest; of the `best` ones only the highest
        /// counts, so adding a lower `best` one changes nothing.
        #[test]
        fn stacking_adds_and_best_takes_the_highest(
            amount in 1_000_000..1_000_000_000_i64,
            stack in 100..400_u32,
            best in 100..400_u32,
            lower in 100..400_u32,
        ) {
            let factor = |hundredths: u32| Decimal::new(i64::from(hundredths), 2);
            let rules = [
                ("best", rule(None, Basis::Amount, EarnAward::Multiplier { factor: factor(best), stacking: Stacking::Best })),
                ("stack", rule(None, Basis::Amount, EarnAward::Multiplier { factor: factor(stack), stacking: Stacking::Stack })),
            ];
            let exact = Exact::new(i128::from(amount), 1_000_000)
                * (Exact::new(i128::from(stack + best), 100) - 1);
            let points = earn(&base(), amount, &[], &placed(&rules)).unwrap().points;
            prop_assert_eq!(points.get(), floor(exact));
            let lower = lower.min(best);
            let mut more = rules.to_vec();
            more.push(("lower", rule(None, Basis::Amount, EarnAward::Multiplier { factor: factor(lower), stacking: Stacking::Best })));
            prop_assert_eq!(earn(&base(), amount, &[], &placed(&more)).unwrap().points, points);
        }
    }
}
