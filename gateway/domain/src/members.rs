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
    /// The code the member gives friends to enrol with.
    pub invite_code: InviteCode,
    /// The member whose invite code they enrolled with.
    pub referred_by: Option<MemberId>,
    /// The month and day of their birthday (`MM-DD`), kept in clear for the birthday bonus.
    pub birthday: Option<String>,
    /// The keyed hash of their city (`MemberDataKeys::city_lookup`), for campaigns aimed at it.
    pub city_lookup: Option<[u8; 32]>,
    /// When they agreed to be sent messages; `None` while they have not (or withdrew).
    pub messages_consent_at: Option<DateTime<Utc>>,
}

/// A member's invite code: 8 characters from an alphabet without 0/O and 1/I, so it is read
/// aloud and typed without mistakes (about 10^12 codes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InviteCode(String);

/// The characters of invite codes.
const INVITE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

impl InviteCode {
    /// A new random code.
    pub fn random() -> Self {
        use rand::Rng as _;
        let mut rng = rand::thread_rng();
        Self(
            (0..8)
                .map(|_| char::from(INVITE_ALPHABET[rng.gen_range(0..INVITE_ALPHABET.len())]))
                .collect(),
        )
    }

    /// A code as typed: case and spaces or dashes between characters do not matter.
    pub fn parse(text: &str) -> Result<Self, EnrolmentError> {
        let code: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.len() == 8 && code.bytes().all(|b| INVITE_ALPHABET.contains(&b)) {
            Ok(Self(code))
        } else {
            Err(EnrolmentError::InviteCodeUnknown)
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    /// The invite code of the friend who referred the member, if any.
    pub invite_code: Option<String>,
    /// Whether they agree to be sent messages (offers, news).
    pub consents_to_messages: bool,
}

/// The outcome of an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The new member.
    pub member_id: MemberId,
    /// Their first card, ready to use.
    pub card: CardNumber,
    /// The code they give friends to enrol with.
    #[serde(default)]
    pub invite_code: String,
    /// Points of the bonuses awarded with the enrolment (sign-up, a completed profile).
    #[serde(default)]
    pub bonus_points: i64,
    /// The members whose points the enrolment moved (the new one, a referrer), whose card caches
    /// are told after the commit; not recorded with the answer.
    #[serde(skip)]
    pub moved: Vec<MemberId>,
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
    /// No open member has this invite code.
    #[error("no member has this invite code")]
    InviteCodeUnknown,
    /// The invite code is the enrolling phone's own member's.
    #[error("a member cannot refer themselves")]
    ReferralSelf,
    /// The phone was enrolled before: a referral is for new members only (one phone, one member).
    #[error("this phone number is already enrolled; a referral is for new members only")]
    ReferralPhoneReused,
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
            Self::InviteCodeUnknown => "invite_code_unknown",
            Self::ReferralSelf => "referral_self",
            Self::ReferralPhoneReused => "referral_phone_reused",
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
    /// The campaigns a purchase at the branch (when one was named) would get a bonus from today.
    pub campaigns: Vec<crate::program::campaigns::CampaignOffer>,
    /// Where the member stands toward each repeat-visit bonus in force.
    pub repeat_visits: Vec<crate::program::bonuses::RepeatVisitProgress>,
}

/// Why a member's sign-in (by a code sent to their phone) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum SignInCodeError {
    /// Not a phone number in international form.
    #[error("phone must be in international form, e.g. +989121234567")]
    PhoneInvalid,
    /// Too many codes asked for, or too many wrong codes tried, lately.
    #[error("too many attempts; try again in {minutes} minutes")]
    Throttled {
        /// How long to wait, at most.
        minutes: u64,
    },
    /// The code is wrong, has lapsed, or was used (which of these is not told).
    #[error("the code is wrong or has lapsed; ask for a new one")]
    CodeInvalid,
}

impl SignInCodeError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PhoneInvalid => "member_phone_invalid",
            Self::Throttled { .. } => "sign_in_code_throttled",
            Self::CodeInvalid => "sign_in_code_invalid",
        }
    }
}
