//! Club cards: numbers, the programme prefix, the states a card moves through,
//! and why a card cannot be used. The number format itself (Luhn, 16 digits) is
//! `partners::cards`, shared with the tills.

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::ids::MemberId;

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
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CardStatus {
    /// In use.
    #[default]
    Active,
    /// Stopped by the operator (fraud, a dispute); may be unblocked.
    Blocked,
    /// Reported lost and replaced; never usable again.
    Lost,
}

impl CardStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A club card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Its number.
    pub number: CardNumber,
    /// Whose it is (for good: a card never changes hands).
    pub member_id: MemberId,
    /// Whether it can be used.
    pub status: CardStatus,
    /// The card that replaced it, once lost.
    pub replaced_by: Option<CardNumber>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When its status last changed.
    pub status_changed_at: DateTime<Utc>,
}

/// Whether a member's account is open.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MemberStatus {
    /// The member may earn and redeem.
    #[default]
    Active,
    /// The account is closed.
    Closed,
}

impl MemberStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Whether a card in `card` status of a member in `member` status may be used at the till.
pub fn usable(card: CardStatus, member: MemberStatus) -> Result<(), CardError> {
    match card {
        CardStatus::Active => {}
        CardStatus::Blocked => return Err(CardError::Blocked),
        CardStatus::Lost => return Err(CardError::Lost),
    }
    match member {
        MemberStatus::Active => Ok(()),
        MemberStatus::Closed => Err(CardError::MemberClosed),
    }
}

/// Why a card cannot be used, or a card command was refused.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum CardError {
    /// The number is not a club card number.
    #[error("{0}")]
    NumberInvalid(CardNumberError),
    /// No card has this number.
    #[error("no card with this number")]
    Unknown,
    /// The card is blocked.
    #[error("this card is blocked")]
    Blocked,
    /// The card was reported lost.
    #[error("this card was reported lost; use its replacement")]
    Lost,
    /// The member's account is closed.
    #[error("the member's account is closed")]
    MemberClosed,
    /// A card command needs the card in another status.
    #[error("card {card} is {status}; only an {expected} card can be {action}")]
    WrongStatus {
        /// The card's last four digits.
        card: String,
        /// Its status now.
        status: CardStatus,
        /// The status the command needs.
        expected: CardStatus,
        /// What was asked ("blocked", "reported lost").
        action: String,
    },
}

impl CardError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NumberInvalid(_) => "card_number_invalid",
            Self::Unknown => "card_unknown",
            Self::Blocked => "card_blocked",
            Self::Lost => "card_lost",
            Self::MemberClosed => "member_closed",
            Self::WrongStatus { .. } => "card_status_conflict",
        }
    }
}

impl From<CardNumberError> for CardError {
    fn from(err: CardNumberError) -> Self {
        Self::NumberInvalid(err)
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

    #[test]
    fn statuses_parse_only_what_is_stored() {
        assert_eq!("blocked".parse::<CardStatus>(), Ok(CardStatus::Blocked));
        assert!("Blocked".parse::<CardStatus>().is_err());
        assert!("gone".parse::<MemberStatus>().is_err());
        assert_eq!(
            usable(CardStatus::Active, MemberStatus::Closed),
            Err(CardError::MemberClosed)
        );
    }
}
