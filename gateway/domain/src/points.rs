//! Points and money. Both are whole numbers: points are counted one by one, money
//! in the minor units of its ISO 4217 currency (rates are exact decimals, see
//! `settlement::money`). Arithmetic that could overflow is checked where input
//! reaches it; within the ledger, balances are bounded by what was earned.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// A number of loyalty points (negative only as a change, never as a member's balance).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Points(pub i64);

impl Points {
    /// No points.
    pub const ZERO: Self = Self(0);

    /// The count as an integer.
    pub fn get(self) -> i64 {
        self.0
    }

    /// Whether there is at least one point.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Add for Points {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }
}

impl Sub for Points {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }
}

impl Neg for Points {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl AddAssign for Points {
    fn add_assign(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl SubAssign for Points {
    fn sub_assign(&mut self, other: Self) {
        self.0 -= other.0;
    }
}

impl Sum for Points {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|p| p.0).sum())
    }
}

/// An ISO 4217 currency code: three uppercase letters, such as `IRR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency {0:?} is not an ISO 4217 code such as IRR")]
pub struct InvalidCurrency(pub String);

impl Currency {
    /// Checks a code's shape: three uppercase ASCII letters.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        match <[u8; 3]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Self(bytes)),
            _ => Err(InvalidCurrency(code.to_owned())),
        }
    }

    /// The three letters.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl Default for Currency {
    /// `XXX`: ISO 4217's code for "no currency".
    fn default() -> Self {
        Self(*b"XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

/// An amount of money: whole minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (1/100 rial for IRR).
    pub amount_minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// `amount_minor` of `currency`.
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }
}

impl fmt::Display for Money {
    /// As people read it: the currency's decimal places and grouped digits (`7,650,506.96 IRR`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&partners::amounts::format_money(
            self.amount_minor,
            self.currency.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_uppercase_letters() {
        assert_eq!(Currency::parse("IRR").unwrap().as_str(), "IRR");
        assert!(Currency::parse("irr").is_err());
        assert!(Currency::parse("RIAL").is_err());
        assert!(Currency::parse("I R").is_err());
        let json = serde_json::to_string(&Currency::parse("EUR").unwrap()).unwrap();
        assert_eq!(json, "\"EUR\"");
        assert!(serde_json::from_str::<Currency>("\"eu\"").is_err());
    }

    #[test]
    fn points_add_up() {
        let total: Points = [Points(3), Points(4), -Points(2)].into_iter().sum();
        assert_eq!(total, Points(5));
        assert_eq!(Points(i64::MAX).checked_add(Points(1)), None);
    }
}
