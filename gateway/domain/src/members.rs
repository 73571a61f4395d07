//! Members: enrolment at a partner's till, and what a cashier sees when a card is checked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cards::{CardNumber, MemberStatus};
use crate::ids::{BranchId, MemberId, PartnerId};
use crate::ledger::Balance;
use crate::member_data::{InvalidPersonalData, PersonalData};
use crate::partners::BranchError;
use crate::points::Money;
use crate::program::tiers::Standing;

/// A member as stored: personal data only in sealed form (see [`crate::member_data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// The keyed hash of the phone number, for lookups.
    pub phone_lookup: [u8; 32],
    /// The personal data, encrypted for this member.
    pub sealed_personal_data: Vec<u8>,
    /// Whether the account is open.
    pub status: MemberStatus,
    /// The partner that enrolled the member.
    pub enrolled_by_partner: PartnerId,
    /// The branch the member enrolled at.
    pub enrolled_at_branch: BranchId,
    /// When.
    pub enrolled_at: DateTime<Utc>,
}

/// Who is being enrolled, where.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Branch code (or id) of the enrolling partner.
    pub branch: String,
    /// What the member told the cashier.
    pub personal: PersonalData,
    /// A fixed card number (the demo network's); a random one when `None`.
    pub card: Option<CardNumber>,
}

/// The outcome of an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The new member.
    pub member_id: MemberId,
    /// Their first card, ready to use.
    pub card: CardNumber,
}

/// Why an enrolment was refused.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum EnrolmentError {
    /// A field of the personal data is not acceptable.
    #[error(transparent)]
    InvalidData(#[from] InvalidPersonalData),
    /// A member with this phone number exists.
    #[error("a member with this phone number is already enrolled")]
    PhoneTaken,
    /// The branch cannot be used.
    #[strum(disabled)]
    #[error(transparent)]
    Branch(#[from] BranchError),
}

impl EnrolmentError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidData(_) => "invalid_member_data",
            Self::PhoneTaken => "member_already_enrolled",
            Self::Branch(err) => err.code(),
        }
    }
}

/// What a cashier sees when checking a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCheck {
    /// The card.
    pub card: CardNumber,
    /// Its member.
    pub member_id: MemberId,
    /// The member's first name (all a cashier sees of it).
    pub first_name: String,
    /// The member's tier and progress to the next (`None` when no tier is in force).
    pub tier: Option<Standing>,
    /// The member's points.
    pub balance: Balance,
    /// What the available points take off a bill at the branch (when a branch was named
    /// and has a rule).
    pub redeemable_value: Option<Money>,
}
