//! Amounts written the way people read them: money in its currency's major unit
//! (`7,650,506.96 IRR`) and points with grouped digits (`12,345 points`).
//!
//! Only for text meant for people (CLI summaries, logs a person reads). The wire,
//! `--json` output and anything a program parses keep integer minor units: this
//! module never parses, rounds or converts an amount, it only places the decimal
//! point and the thousands separators. The style is fixed (`,` between groups of
//! three, `.` before the minor digits); a page that formats per locale does its own.

use iso_currency::Currency;

/// The exponent of a well-formed code that the ISO 4217 table does not list.
///
/// Most currencies have two minor digits, and a code newer than the table (one
/// the gateway accepts before the `iso_currency` crate lists it) most likely does too.
const DEFAULT_EXPONENT: u32 = 2;

/// The number of minor-unit digits of an ISO 4217 currency: 2 for `IRR`, 0 for `JPY`, 3 for `KWD`.
///
/// The table is the `iso_currency` crate's copy of ISO 4217 list one (the
/// "minor unit" column), kept up to date by that crate. A code the table has without a minor unit
/// (`XAU`, `XDR`, `XXX`: ISO says "N.A.") gets 0, so its amount prints as
/// the integer it is. A well-formed code (three ASCII capital letters) that the
/// table lacks gets 2. Anything else is not an ISO 4217 code and gets 0: no
/// decimal point is invented for a currency we cannot name.
pub fn exponent(currency: &str) -> u32 {
    match Currency::from_code(currency) {
        Some(known) => known.exponent().map_or(0, u32::from),
        None if is_well_formed(currency) => DEFAULT_EXPONENT,
        None => 0,
    }
}

/// Formats an amount in minor units with its currency's exponent and grouped digits.
///
/// `765050696` `IRR` is `7,650,506.96 IRR`, `-1234` `JPY` is `-1,234 JPY`,
/// `1500` `KWD` is `1.500 KWD`. Every `i64` formats, `i64::MIN` included.
pub fn format_money(amount_minor: i64, currency: &str) -> String {
    let mut out = format_minor(amount_minor.into(), exponent(currency));
    out.push(' ');
    out.push_str(currency);
    out
}

/// Formats a number of points with grouped digits and the unit: `12,345 points`, `1 point`.
pub fn format_points(points: i64) -> String {
    let unit = if points.unsigned_abs() == 1 {
        "point"
    } else {
        "points"
    };
    format!("{} {unit}", group(points))
}

/// Groups an integer's digits by thousands: `-1234567` is `-1,234,567` (totals may be 128-bit).
pub fn group(value: impl Into<i128>) -> String {
    format_minor(value.into(), 0)
}

/// `amount_minor` with `exponent` digits after the decimal point and the rest grouped.
fn format_minor(amount_minor: i128, exponent: u32) -> String {
    // `unsigned_abs` rather than `abs`: the smallest integer has no positive counterpart.
    let digits = amount_minor.unsigned_abs().to_string();
    // u32 always fits usize on the targets we build for; saturating keeps this total anyway.
    let exponent = usize::try_from(exponent).unwrap_or(usize::MAX);
    // Pad with leading zeros so there is at least one digit before the point: 5 cents is 0.05.
    let width = exponent.saturating_add(1);
    let digits = format!("{digits:0>width$}");
    let (whole, fraction) = digits.split_at(digits.len() - exponent);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if amount_minor < 0 {
        out.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// Three ASCII capital letters, the shape of every ISO 4217 alphabetic code.
fn is_well_formed(currency: &str) -> bool {
    currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_exponent() {
        assert_eq!(format_money(765_050_696, "IRR"), "7,650,506.96 IRR");
        assert_eq!(format_money(-1234, "JPY"), "-1,234 JPY");
        assert_eq!(format_money(1500, "KWD"), "1.500 KWD");
        assert_eq!(format_money(12_345, "CLF"), "1.2345 CLF");
        assert_eq!(format_money(123_456_789, "EUR"), "1,234,567.89 EUR");
    }

    #[test]
    fn money_below_one_major_unit_keeps_a_leading_zero() {
        assert_eq!(format_money(0, "USD"), "0.00 USD");
        assert_eq!(format_money(5, "USD"), "0.05 USD");
        assert_eq!(format_money(-5, "USD"), "-0.05 USD");
        assert_eq!(format_money(-50, "KWD"), "-0.050 KWD");
        assert_eq!(format_money(0, "JPY"), "0 JPY");
    }

    #[test]
    fn extreme_amounts_format_without_panicking() {
        assert_eq!(
            format_money(i64::MIN, "IRR"),
            "-92,233,720,368,547,758.08 IRR"
        );
        assert_eq!(
            format_money(i64::MAX, "IRR"),
            "92,233,720,368,547,758.07 IRR"
        );
        assert_eq!(
            format_money(i64::MIN, "JPY"),
            "-9,223,372,036,854,775,808 JPY"
        );
        // More minor digits than the amount has: zeros fill in, nothing slices out of range.
        assert_eq!(format_minor(-1, 5), "-0.00001");
    }

    #[test]
    fn exponent_follows_iso_4217() {
        assert_eq!(exponent("IRR"), 2);
        assert_eq!(exponent("USD"), 2);
        assert_eq!(exponent("JPY"), 0);
        assert_eq!(exponent("KRW"), 0);
        assert_eq!(exponent("KWD"), 3);
        assert_eq!(exponent("BHD"), 3);
        assert_eq!(exponent("CLF"), 4);
    }

    #[test]
    fn exponent_of_codes_outside_the_table() {
        // Listed without a minor unit ("N.A."): printed as the integer it is.
        assert_eq!(exponent("XAU"), 0);
        assert_eq!(exponent("XXX"), 0);
        // Well-formed but unlisted: the common case, two digits.
        assert_eq!(exponent("ZZZ"), 2);
        assert_eq!(format_money(1234, "ZZZ"), "12.34 ZZZ");
        // Not an ISO 4217 code at all: no decimal point is invented.
        assert_eq!(exponent("irr"), 0);
        assert_eq!(exponent(""), 0);
        assert_eq!(exponent("IRRX"), 0);
        assert_eq!(format_money(1234, "pts"), "1,234 pts");
    }

    #[test]
    fn group_separates_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(-1000), "-1,000");
        assert_eq!(group(100_000), "100,000");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn money_displays_through_format_money() {
        let money = crate::protocol::Money {
            amount_minor: 765_050_696,
            currency: "IRR".into(),
        };
        assert_eq!(money.to_string(), "7,650,506.96 IRR");
        assert_eq!(format!("[{money:>18}]"), "[  7,650,506.96 IRR]");
    }

    #[test]
    fn points_are_grouped_with_their_unit() {
        assert_eq!(format_points(12_345), "12,345 points");
        assert_eq!(format_points(1), "1 point");
        assert_eq!(format_points(-1), "-1 point");
        assert_eq!(format_points(0), "0 points");
        assert_eq!(format_points(-2500), "-2,500 points");
    }
}
