//! Club cards at the gateway: issuing numbers, card states, the programme prefix.
//! The number format itself (Luhn, 16 digits) is `partners::cards`, shared with tills.

use rand::Rng as _;

pub use partners::cards::{CARD_DIGITS, CardNumber, CardNumberError, luhn_check_digit};

/// A random number with the programme `prefix`.
pub fn random(prefix: &str) -> CardNumber {
    let width = CARD_DIGITS - 1 - prefix.len();
    let bound = 10u64.pow(u32::try_from(width).unwrap_or(0));
    CardNumber::from_serial(prefix, rand::thread_rng().gen_range(0..bound))
}

/// Checks a programme card prefix: 1 to 8 digits, leaving room for a serial.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if (1..=8).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("card prefix {prefix:?} must be 1 to 8 digits"))
    }
}

/// Whether a card can be used at the till.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    Blocked,
    Lost,
}

impl CardStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
            Self::Lost => "lost",
        }
    }

    /// Parses the stored name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "blocked" => Some(Self::Blocked),
            "lost" => Some(Self::Lost),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_carry_the_prefix_and_pass_the_check() {
        let number = random("6037");
        assert!(number.as_str().starts_with("6037"));
        assert_eq!(CardNumber::parse(number.as_str()), Ok(number.clone()));
    }
}
