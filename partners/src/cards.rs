//! Club card numbers: 16 digits, a fixed programme prefix, a Luhn check digit.
//!
//! Both sides check numbers: a till can refuse a mistyped number before it
//! sends anything, and the gateway refuses it before any lookup.

/// Digits in a card number, check digit included.
pub const CARD_DIGITS: usize = 16;

/// A syntactically valid card number (16 digits, Luhn check digit correct).
///
/// Serialized as its 16 digits; deserializing checks them again.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

impl TryFrom<String> for CardNumber {
    type Error = CardNumberError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CardNumber> for String {
    fn from(number: CardNumber) -> Self {
        number.0
    }
}

/// Why a card number was refused before lookup.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    thiserror::Error,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum CardNumberError {
    #[default]
    #[error("a card number has 16 digits")]
    Length,
    #[error("the card number's check digit is wrong (mistyped?)")]
    CheckDigit,
}

/// The Luhn check digit for `digits` (the number without its check digit).
pub fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    // The sum mod 10 is below 10, so the digit fits in a u8.
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// The value of a digit as a cashier may type it: ASCII, Persian (`۰`–`۹`) or Arabic-Indic
/// (`٠`–`٩`), since tills in the programme's region have keyboards for each.
fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '۰'..='۹' => Some(u32::from(c) - u32::from('۰')),
        '٠'..='٩' => Some(u32::from(c) - u32::from('٠')),
        _ => None,
    }
}

impl CardNumber {
    /// Parses a number as typed: spaces and dashes are ignored.
    pub fn parse(input: &str) -> Result<Self, CardNumberError> {
        let digits: Vec<u8> = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| digit_value(c).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or(CardNumberError::Length)?;
        if digits.len() != CARD_DIGITS {
            return Err(CardNumberError::Length);
        }
        if luhn_check_digit(&digits[..CARD_DIGITS - 1]) != digits[CARD_DIGITS - 1] {
            return Err(CardNumberError::CheckDigit);
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// A number with the programme `prefix` and the given serial (zero-padded).
    pub fn from_serial(prefix: &str, serial: u64) -> Self {
        let body = format!(
            "{prefix}{serial:0width$}",
            width = CARD_DIGITS - 1 - prefix.len()
        );
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let check = luhn_check_digit(&digits);
        Self(format!("{body}{check}"))
    }

    /// The 16 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits, the only part shown in statements and logs.
    pub fn last4(&self) -> &str {
        &self.0[CARD_DIGITS - 4..]
    }
}

impl std::fmt::Display for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_known_numbers() {
        // Classic test numbers with valid Luhn digits.
        assert!(CardNumber::parse("4539 1488 0343 6467").is_ok());
        assert!(CardNumber::parse("4111-1111-1111-1111").is_ok());
        assert_eq!(
            CardNumber::parse("4111111111111112"),
            Err(CardNumberError::CheckDigit)
        );
        assert_eq!(
            CardNumber::parse("411111111111111"),
            Err(CardNumberError::Length)
        );
        assert_eq!(
            CardNumber::parse("41111111111111a1"),
            Err(CardNumberError::Length)
        );
    }

    #[test]
    fn spaces_dashes_and_persian_or_arabic_digits_are_read_as_the_number() {
        let number = CardNumber::parse("4111111111111111").unwrap();
        for typed in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "۴۱۱۱ ۱۱۱۱ ۱۱۱۱ ۱۱۱۱",
            "٤١١١-١١١١-١١١١-١١١١",
        ] {
            assert_eq!(CardNumber::parse(typed), Ok(number.clone()), "{typed}");
        }
        for refused in [
            "4111.1111.1111.1111",
            "4111\u{0}1111 1111 1111",
            "４１１１111111111111",
        ] {
            assert_eq!(
                CardNumber::parse(refused),
                Err(CardNumberError::Length),
                "{refused}"
            );
        }
    }

    #[test]
    fn generated_numbers_carry_the_prefix_and_pass_the_check() {
        for serial in [0, 1, 42, 99_999_999_999] {
            let number = CardNumber::from_serial("6037", serial);
            assert!(number.as_str().starts_with("6037"));
            assert_eq!(CardNumber::parse(number.as_str()), Ok(number.clone()));
        }
        assert_eq!(CardNumber::from_serial("6037", 7).last4().len(), 4);
    }

    #[test]
    fn every_single_digit_typo_is_caught() {
        let number = CardNumber::from_serial("6037", 12_345_678_901);
        let digits: Vec<char> = number.as_str().chars().collect();
        for i in 0..CARD_DIGITS {
            for d in '0'..='9' {
                if d == digits[i] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[i] = d;
                let typo: String = typo.into_iter().collect();
                assert_eq!(
                    CardNumber::parse(&typo),
                    Err(CardNumberError::CheckDigit),
                    "{typo}"
                );
            }
        }
    }
}
