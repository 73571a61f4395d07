//! The points ledger: double-entry, append-only, shaped like TigerBeetle's model.
//!
//! Accounts: one per member; per partner an issuance account (points it issued)
//! and a redemption account (points it accepted); the operator's breakage,
//! promotions and adjustments accounts. Transfers are immutable; a correction is
//! a new transfer. Each account carries a balance projection updated in the same
//! transaction as its transfers; [`check`] recomputes everything from the
//! transfers and proves the two agree. See `docs/ledger.md`.
//!
//! Every operation here runs on the caller's transaction (the idempotent-write
//! transaction of `domain::idempotency`) and locks the member's account row first,
//! so operations on one member apply one after another, in a fixed lock order.

pub mod batch;
pub mod check;
pub mod committer;
mod earn;
mod history;
mod maintenance;
pub(crate) mod postings;
pub mod prepare;
mod redeem;
mod reverse;

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::earn::{EarnRequest, earn, post_earn, void_earn};
pub use self::history::{HistoryQuery, transactions};
pub use self::maintenance::{MaintenanceReport, run_maintenance};
pub use self::postings::Balance;
pub use self::redeem::{RedeemRequest, capture, redeem, void_hold};
pub use self::reverse::{ReverseRequest, reverse};
use super::cards::CardNumberError;
use super::member_data::MemberDataError;
use super::partners::PartnerId;
use crate::storage::StorageError;
use crate::storage::ledger::TransferRow;

/// Tells the caches a member's points changed; call after the commit, before answering.
pub async fn committed(storage: &crate::storage::Storage, member_id: Uuid) {
    crate::storage::card_cache::bump(storage, member_id).await;
}

/// `money × part / whole`, rounded down; `None` if `whole` is zero or the result overflows.
fn proportion(money: i64, part: i64, whole: i64) -> Option<i64> {
    if whole == 0 {
        return None;
    }
    i64::try_from(i128::from(money) * i128::from(part) / i128::from(whole)).ok()
}

/// Programme settings the ledger obeys.
#[derive(Debug, Clone)]
pub struct ProgramSettings {
    /// Digits every card number starts with.
    pub card_prefix: String,
    /// How long earned points stay valid.
    pub points_validity: chrono::Duration,
    /// A hold's lifetime when the partner does not say.
    pub default_hold: Duration,
    /// The longest hold a partner may ask for.
    pub max_hold: Duration,
    /// The latest a pending earn may be released.
    pub max_release: chrono::Duration,
    /// Lifetime points for the silver and gold tiers.
    pub silver_points: i64,
    pub gold_points: i64,
}

/// The partner making a ledger request, and the idempotency key it travels under.
#[derive(Debug, Clone)]
pub struct Teller {
    pub partner_id: PartnerId,
    pub idempotency_key: Option<String>,
}

/// What a transfer records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferCode {
    Earn,
    Redeem,
    EarnReversal,
    RedeemReversal,
    Expiry,
    Bonus,
    Adjustment,
}

impl TransferCode {
    /// Every code, as stored.
    pub const ALL: [Self; 7] = [
        Self::Earn,
        Self::Redeem,
        Self::EarnReversal,
        Self::RedeemReversal,
        Self::Expiry,
        Self::Bonus,
        Self::Adjustment,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earn => "earn",
            Self::Redeem => "redeem",
            Self::EarnReversal => "earn_reversal",
            Self::RedeemReversal => "redeem_reversal",
            Self::Expiry => "expiry",
            Self::Bonus => "bonus",
            Self::Adjustment => "adjustment",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// How a transfer moves balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Posted at once.
    Single,
    /// Reserved: a hold, or an earn not yet released.
    Pending,
    /// Posts a pending transfer (all or part of it).
    Post,
    /// Releases a pending transfer.
    Void,
}

impl Phase {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Pending => "pending",
            Self::Post => "post",
            Self::Void => "void",
        }
    }

    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "pending" => Self::Pending,
            "post" => Self::Post,
            "void" => Self::Void,
            _ => Self::Single,
        }
    }
}

/// Where a transfer stands for the partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    Posted,
    Pending,
    Voided,
}

impl TransferState {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Posted => "posted",
            Self::Pending => "pending",
            Self::Voided => "voided",
        }
    }
}

/// A transfer as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: Uuid,
    pub code: TransferCode,
    pub phase: Phase,
    pub amount: i64,
    pub pending_id: Option<Uuid>,
    pub reverses_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub card_number: Option<String>,
    pub partner_reference: Option<String>,
    pub money_minor: Option<i64>,
    pub currency: Option<String>,
    pub timeout_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<TransferRow> for Transfer {
    fn from(row: TransferRow) -> Self {
        Self {
            id: row.id,
            // The table's CHECK constraint admits only known codes.
            code: TransferCode::parse(&row.code).unwrap_or(TransferCode::Adjustment),
            phase: Phase::parse(&row.phase),
            amount: row.amount,
            pending_id: row.pending_id,
            reverses_id: row.reverses_id,
            member_id: row.member_id,
            branch_id: row.branch_id,
            card_number: row.card_number,
            partner_reference: row.partner_reference,
            money_minor: row.money_minor,
            currency: row.currency,
            timeout_at: row.timeout_at,
            created_at: row.created_at,
        }
    }
}

/// The answer to a ledger operation: the transfer written, its state, the member's balance after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub transfer: Transfer,
    pub state: TransferState,
    pub balance: Balance,
}

/// Why a ledger operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{0}")]
    CardNumberInvalid(CardNumberError),
    #[error("no card with this number")]
    CardUnknown,
    #[error("this card is blocked")]
    CardBlocked,
    #[error("this card was reported lost; use its replacement")]
    CardLost,
    #[error("the member's account is closed")]
    MemberClosed,
    #[error("no branch {0:?} at this partner")]
    BranchUnknown(String),
    #[error("branch {0} belongs to another partner")]
    BranchOfAnotherPartner(Uuid),
    #[error("this partner has no point rule for the branch; ask the operator to set one")]
    RuleMissing,
    #[error("this branch works in {expected}")]
    CurrencyMismatch { expected: String },
    #[error("the purchase is too small to earn a point")]
    PurchaseTooSmall,
    #[error("the amount is too large")]
    AmountTooLarge,
    #[error("the member has {available} points available; {requested} were asked for")]
    InsufficientPoints { available: i64, requested: i64 },
    #[error("no transfer {0} of this partner")]
    TransferNotFound(Uuid),
    #[error("transfer {0} is not a redemption hold")]
    NotAHold(Uuid),
    #[error("transfer {0} is not a pending earn")]
    NotAPendingEarn(Uuid),
    #[error("the hold expired at {0} and its points were released")]
    HoldExpired(DateTime<Utc>),
    #[error("the hold was already captured")]
    HoldAlreadyCaptured,
    #[error("the hold was already voided")]
    HoldAlreadyVoided,
    #[error("the earn was already posted")]
    EarnAlreadyPosted,
    #[error("the earn was already voided")]
    EarnAlreadyVoided,
    #[error("the capture asks for more than the {held} points held")]
    CaptureExceedsHold { held: i64 },
    #[error("{0}")]
    NotReversible(&'static str),
    #[error("only {remaining} points of the original are left to reverse")]
    ReversalExceedsOriginal { remaining: i64 },
    #[error("this partner reference is already used by another transfer of the same type")]
    ReferenceTaken,
    #[error("a hold may last 1 to {max_secs} seconds")]
    HoldTimeoutInvalid { max_secs: u64 },
    #[error("release_at must be in the future and within {max_days} days")]
    ReleaseAtInvalid { max_days: i64 },
    #[error("a member with this phone number is already enrolled")]
    PhoneTaken,
    #[error("member data: {0}")]
    MemberData(#[from] MemberDataError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<crate::storage::ledger::TransferWriteError> for LedgerError {
    fn from(err: crate::storage::ledger::TransferWriteError) -> Self {
        match err {
            crate::storage::ledger::TransferWriteError::ReferenceTaken => Self::ReferenceTaken,
            crate::storage::ledger::TransferWriteError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<diesel::result::Error> for LedgerError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(err.into())
    }
}

impl super::idempotency::FinalOutcome for LedgerError {
    fn is_final(&self) -> bool {
        !matches!(self, Self::Storage(_) | Self::MemberData(_))
    }
}
