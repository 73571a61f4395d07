//! The points ledger: double-entry, append-only, shaped like TigerBeetle's model.
//!
//! Accounts: one per member; per partner an issuance account (points it issued)
//! and a redemption account (points it accepted); the operator's breakage,
//! promotions and adjustments accounts. Transfers are immutable; a correction is
//! a new transfer. Each account carries a balance projection that moves with its
//! transfers ([`AccountDeltas`]). See `docs/ledger.md`.
//!
//! This module holds the ledger's types and its decisions, and does no I/O:
//! [`books`] decides a batch of earns, redemptions and the steps that follow them
//! (captures, voids, releases, reversals) in arrival order, [`lots`]
//! says which lots points come from and go back to. Loading what a decision needs
//! and storing what it wrote is the operations' and storage's job.

pub mod books;
pub mod lots;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cards::{CardError, CardNumber};
use crate::ids::{AccountId, BranchId, LotId, MemberId, PartnerId, StaffId, TransferId};
use crate::points::{Currency, Money, Points};
use crate::pricing::PricingError;
use crate::program::earning::BasketLine;

/// What a transfer records.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TransferCode {
    /// A purchase earned points (partner issuance → member).
    Earn,
    /// Points paid a discount (member → partner redemption).
    Redeem,
    /// An earn taken back.
    EarnReversal,
    /// A redemption given back.
    RedeemReversal,
    /// Points past their validity (member → breakage).
    Expiry,
    /// Points the programme gave (promotions → member).
    Bonus,
    /// A settlement correction.
    Adjustment,
}

impl TransferCode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How a transfer moves balances.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
        self.into()
    }
}

/// Where a transfer stands for the partner.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TransferState {
    /// Its points moved.
    Posted,
    /// Reserved, not yet resolved.
    Pending,
    /// Released without moving points.
    Voided,
}

impl TransferState {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Where `transfer` stands, given the transfer that resolved it (if it was pending). A hold
    /// whose timeout has passed is voided from that instant on, even before its void is written.
    pub fn of(transfer: &Transfer, resolution: Option<&Transfer>, now: DateTime<Utc>) -> Self {
        if transfer.phase != Phase::Pending {
            return Self::Posted;
        }
        match resolution {
            Some(r) if r.phase == Phase::Post => Self::Posted,
            Some(_) => Self::Voided,
            None if transfer.is_expired_hold(now) => Self::Voided,
            None => Self::Pending,
        }
    }
}

/// What an account is for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AccountKind {
    /// A member's points.
    Member,
    /// Points a partner issued.
    PartnerIssuance,
    /// Points a partner accepted.
    PartnerRedemption,
    /// Expired points (operator).
    Breakage,
    /// Points the programme gives (operator).
    Promotions,
    /// Settlement corrections (operator).
    Adjustments,
}

impl AccountKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The operator's breakage account (expired points), created by the ledger migration.
pub const BREAKAGE_ACCOUNT: AccountId =
    AccountId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));
/// The operator's promotions account: bonus points the programme pays for (fixed id, from the
/// ledger migration).
pub const PROMOTIONS_ACCOUNT: AccountId =
    AccountId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0002));
/// The operator's account that absorbs settlement adjustments (fixed id, from the migration).
pub const ADJUSTMENTS_ACCOUNT: AccountId =
    AccountId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0003));

/// Namespace for the deterministic ids of partner accounts.
const PARTNER_ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x6c75_6267_6174_6500_8000_0000_0000_0001);

/// The id of a partner's issuance or redemption account: derived, so no lookup is needed.
pub fn partner_account(partner_id: PartnerId, kind: AccountKind) -> AccountId {
    AccountId(Uuid::new_v5(
        &PARTNER_ACCOUNT_NAMESPACE,
        format!("{}:{partner_id}", kind.as_str()).as_bytes(),
    ))
}

/// An account with its balance projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// What it is for.
    pub kind: AccountKind,
    /// The member, for a member account.
    pub member_id: Option<MemberId>,
    /// The partner, for a partner account.
    pub partner_id: Option<PartnerId>,
    /// Posted debits.
    pub debits_posted: Points,
    /// Posted credits.
    pub credits_posted: Points,
    /// Debits reserved by pending transfers (holds).
    pub debits_pending: Points,
    /// Credits reserved by pending transfers (unreleased earns).
    pub credits_pending: Points,
    /// Member accounts: posted earns less earn reversals (the tier's measure).
    pub lifetime_earned: Points,
}

impl Account {
    /// Points a member can spend now: posted credits less posted and held debits.
    pub fn available(&self) -> Points {
        self.credits_posted - self.debits_posted - self.debits_pending
    }

    /// The balance this account projects.
    pub fn balance(&self) -> Balance {
        Balance {
            posted: self.credits_posted - self.debits_posted,
            available: self.available(),
            held: self.debits_pending,
            pending_earned: self.credits_pending,
        }
    }
}

/// A member's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balance {
    /// Posted points (credits less debits), held points included.
    pub posted: Points,
    /// What can be redeemed now: posted less held.
    pub available: Points,
    /// Points in open holds.
    pub held: Points,
    /// Earned points not yet released (pending earns).
    pub pending_earned: Points,
}

/// A transfer: immutable once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Its id (time-ordered).
    pub id: TransferId,
    /// The account debited.
    pub debit: AccountId,
    /// The account credited.
    pub credit: AccountId,
    /// Points moved (or reserved, or released).
    pub amount: Points,
    /// What it records.
    pub code: TransferCode,
    /// How it moves balances.
    pub phase: Phase,
    /// The pending transfer a post or void resolves.
    pub pending_id: Option<TransferId>,
    /// The earn or redemption a reversal reverses.
    pub reverses_id: Option<TransferId>,
    /// The member whose points moved.
    pub member_id: Option<MemberId>,
    /// The partner it was made at.
    pub partner_id: Option<PartnerId>,
    /// The branch it was made at.
    pub branch_id: Option<BranchId>,
    /// The card presented.
    pub card_number: Option<CardNumber>,
    /// The partner's own reference (its order or bill).
    pub partner_reference: Option<String>,
    /// The idempotency key of the request that made it.
    pub idempotency_key: Option<String>,
    /// The purchase amount (earn) or discount (redemption), in minor units.
    pub money_minor: Option<i64>,
    /// The currency of `money_minor`.
    pub currency: Option<Currency>,
    /// A pending transfer's timeout (a hold's expiry, an earn's release).
    pub timeout_at: Option<DateTime<Utc>>,
    /// The member of staff who made it at a page (a cashier); `None` for a partner's system.
    pub staff_id: Option<StaffId>,
    /// When it was made (microseconds, as stored).
    pub created_at: DateTime<Utc>,
}

/// The fields every transfer has; [`Transfer::new`] leaves the rest empty.
#[derive(Debug, Clone, Copy)]
pub struct NewTransfer {
    /// The account debited.
    pub debit: AccountId,
    /// The account credited.
    pub credit: AccountId,
    /// Points.
    pub amount: Points,
    /// What it records.
    pub code: TransferCode,
    /// How it moves balances.
    pub phase: Phase,
}

impl Transfer {
    /// A transfer made `now` (which must be a stored time, see [`crate::time`]).
    pub fn new(new: NewTransfer, now: DateTime<Utc>) -> Self {
        Self {
            id: TransferId::at(now),
            debit: new.debit,
            credit: new.credit,
            amount: new.amount,
            code: new.code,
            phase: new.phase,
            pending_id: None,
            reverses_id: None,
            member_id: None,
            partner_id: None,
            branch_id: None,
            card_number: None,
            partner_reference: None,
            idempotency_key: None,
            money_minor: None,
            currency: None,
            timeout_at: None,
            staff_id: None,
            created_at: now,
        }
    }

    /// Its money, when it carries both an amount and a currency.
    pub fn money(&self) -> Option<Money> {
        Some(Money::new(self.money_minor?, self.currency?))
    }

    /// Whether this is a redemption hold whose timeout has passed (its points are released,
    /// whether or not its void has been written yet).
    pub fn is_expired_hold(&self, now: DateTime<Utc>) -> bool {
        self.code == TransferCode::Redeem
            && self.phase == Phase::Pending
            && self.timeout_at.is_some_and(|t| t <= now)
    }

    /// The transfer resolving this pending one: posting `post` (points and money), or voiding
    /// it when `post` is `None`. It carries the original's place and currency.
    pub fn resolution(
        &self,
        post: Option<(Points, Option<i64>)>,
        idempotency_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let (phase, amount, money_minor) = match post {
            Some((amount, money_minor)) => (Phase::Post, amount, money_minor),
            None => (Phase::Void, self.amount, None),
        };
        Self {
            pending_id: Some(self.id),
            member_id: self.member_id,
            partner_id: self.partner_id,
            branch_id: self.branch_id,
            card_number: self.card_number.clone(),
            idempotency_key,
            money_minor,
            currency: self.currency,
            ..Self::new(
                NewTransfer {
                    debit: self.debit,
                    credit: self.credit,
                    amount,
                    code: self.code,
                    phase,
                },
                now,
            )
        }
    }
}

/// An earn lot: the points one earn brought, valid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// Its id (the earn's transfer id).
    pub id: LotId,
    /// The member account it belongs to.
    pub account_id: AccountId,
    /// Points the earn brought.
    pub amount: Points,
    /// Points not yet spent, expired or reversed.
    pub remaining: Points,
    /// When the points were earned.
    pub earned_at: DateTime<Utc>,
    /// When what remains expires.
    pub expires_at: DateTime<Utc>,
}

/// The answer to a ledger operation: the transfer written, its state, the member's balance after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// The transfer the operation wrote.
    pub transfer: Transfer,
    /// Where it stands.
    pub state: TransferState,
    /// The member's balance after it.
    pub balance: Balance,
}

/// How a transfer moves one account's projection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountDeltas {
    /// Change of posted debits.
    pub debits_posted: Points,
    /// Change of posted credits.
    pub credits_posted: Points,
    /// Change of pending debits.
    pub debits_pending: Points,
    /// Change of pending credits.
    pub credits_pending: Points,
    /// Change of lifetime earned points.
    pub lifetime_earned: Points,
}

impl AccountDeltas {
    /// How `transfer` moves its debit and its credit account (for `post` and `void`,
    /// `pending_amount` is the amount of the pending transfer being resolved: all of it leaves
    /// the pending columns, the transfer's own amount enters the posted ones).
    pub fn of(transfer: &Transfer, pending_amount: Points) -> (Self, Self) {
        let amount = transfer.amount;
        let (posted, pending) = match transfer.phase {
            Phase::Pending => (Points::ZERO, amount),
            Phase::Post => (amount, -pending_amount),
            Phase::Void => (Points::ZERO, -pending_amount),
            Phase::Single => (amount, Points::ZERO),
        };
        // Lifetime earned points: a posted earn adds to the member it credits, an earn reversal
        // takes from the member it debits.
        let earned = match (transfer.code, transfer.phase) {
            (TransferCode::Earn, Phase::Single | Phase::Post) => amount,
            _ => Points::ZERO,
        };
        let unearned = if transfer.code == TransferCode::EarnReversal {
            amount
        } else {
            Points::ZERO
        };
        (
            Self {
                debits_posted: posted,
                debits_pending: pending,
                lifetime_earned: -unearned,
                ..Self::default()
            },
            Self {
                credits_posted: posted,
                credits_pending: pending,
                lifetime_earned: earned,
                ..Self::default()
            },
        )
    }

    /// Adds `other` to these deltas.
    pub fn add(&mut self, other: Self) {
        self.debits_posted += other.debits_posted;
        self.credits_posted += other.credits_posted;
        self.debits_pending += other.debits_pending;
        self.credits_pending += other.credits_pending;
        self.lifetime_earned += other.lifetime_earned;
    }

    /// Moves an in-memory account as storage will.
    pub(crate) fn apply_to(self, account: &mut Account) {
        account.debits_posted += self.debits_posted;
        account.credits_posted += self.credits_posted;
        account.debits_pending += self.debits_pending;
        account.credits_pending += self.credits_pending;
        account.lifetime_earned += self.lifetime_earned;
    }
}

/// `money × part / whole`, rounded down; `None` if `whole` is zero or the result overflows.
pub fn proportion(money: i64, part: Points, whole: Points) -> Option<i64> {
    if whole == Points::ZERO {
        return None;
    }
    i64::try_from(i128::from(money) * i128::from(part.get()) / i128::from(whole.get())).ok()
}

/// A purchase that earns points, as a till or a booking system reports it.
#[derive(Debug, Clone)]
pub struct Purchase {
    /// Branch code (or id) of the calling partner.
    pub branch: String,
    /// The card presented.
    pub card: CardNumber,
    /// What was paid.
    pub amount: Money,
    /// The partner's own order reference (unique per partner among its earns).
    pub reference: String,
    /// Keep the points pending until this time (a hotel stay, a return period).
    pub release_at: Option<DateTime<Utc>>,
    /// What was bought, by category (empty: the purchase is one line without a category).
    pub lines: Vec<BasketLine>,
    /// When it happened, if earlier than it is reported (a late or offline earn).
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Purchase {
    /// Checks the amount, the reference and the basket; the release time is kept at stored
    /// precision.
    pub fn new(
        branch: String,
        card: CardNumber,
        amount: Money,
        reference: String,
        release_at: Option<DateTime<Utc>>,
        lines: Vec<BasketLine>,
    ) -> Result<Self, LedgerError> {
        if amount.amount_minor <= 0 {
            return Err(LedgerError::Invalid(
                "amount.amount_minor must be above zero".into(),
            ));
        }
        crate::program::earning::check_basket(&lines, amount.amount_minor)?;
        Ok(Self {
            branch,
            card,
            amount,
            reference: checked_reference(reference)?,
            release_at: release_at.map(crate::time::stored),
            lines,
            occurred_at: None,
        })
    }
}

/// Points redeemed for a discount at the till, in one step or as a hold.
#[derive(Debug, Clone)]
pub struct Redemption {
    /// Branch code (or id) of the calling partner.
    pub branch: String,
    /// The card presented.
    pub card: CardNumber,
    /// Points to redeem.
    pub points: Points,
    /// The partner's own bill reference (unique per partner among its redemptions).
    pub reference: String,
    /// `Some`: only hold the points (authorize), for this long, or the programme's default
    /// when `Some(None)`.
    pub hold: Option<Option<std::time::Duration>>,
}

impl Redemption {
    /// Checks the points and the reference.
    pub fn new(
        branch: String,
        card: CardNumber,
        points: Points,
        reference: String,
        hold: Option<Option<std::time::Duration>>,
    ) -> Result<Self, LedgerError> {
        Ok(Self {
            branch,
            card,
            points: positive("points", points)?,
            reference: checked_reference(reference)?,
            hold,
        })
    }
}

/// A reversal of one of the partner's earns or redemptions, whole or partial.
#[derive(Debug, Clone)]
pub struct Reversal {
    /// The earn or redemption (or a capture or release standing for its pending original).
    pub transfer_id: TransferId,
    /// Points to reverse; all that is left when `None`.
    pub points: Option<Points>,
    /// The partner's own reference (a return, a cancellation).
    pub reference: Option<String>,
}

impl Reversal {
    /// Checks the points and the reference.
    pub fn new(
        transfer_id: TransferId,
        points: Option<Points>,
        reference: Option<String>,
    ) -> Result<Self, LedgerError> {
        Ok(Self {
            transfer_id,
            points: points.map(|p| positive("points", p)).transpose()?,
            reference: reference.map(checked_reference).transpose()?,
        })
    }
}

/// `points`, if above zero; `field` names it in the refusal.
pub fn positive(field: &str, points: Points) -> Result<Points, LedgerError> {
    if points.is_positive() {
        Ok(points)
    } else {
        Err(LedgerError::Invalid(format!("{field} must be above zero")))
    }
}

/// Something a member did that a partner reports (`POST /v1/events`): a review, a survey, …
/// Bonus rules for `event` occasions of its type reward it, once per partner, type and reference.
#[derive(Debug, Clone)]
pub struct Event {
    /// The member's card.
    pub card: CardNumber,
    /// What happened: a code like `review` or `survey`.
    pub event_type: String,
    /// The partner's own reference for it (a review id).
    pub reference: String,
    /// When it happened (now when absent): the bonus rules in force then apply.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Event {
    /// Checks an event as a partner sends it.
    pub fn new(
        card: CardNumber,
        event_type: &str,
        reference: String,
        occurred_at: Option<DateTime<Utc>>,
    ) -> Result<Self, LedgerError> {
        crate::partners::Code::parse(event_type).map_err(|_| {
            LedgerError::Invalid(format!(
                "event type {event_type:?} must be 1 to 63 lowercase letters, digits or '-'"
            ))
        })?;
        Ok(Self {
            card,
            event_type: event_type.to_owned(),
            reference: checked_reference(reference)?,
            occurred_at,
        })
    }
}

/// A partner reference: 1 to 100 characters of plain text, kept exactly as sent.
fn checked_reference(reference: String) -> Result<String, LedgerError> {
    crate::text::exact("reference", reference, 100)
        .map_err(|e| LedgerError::ReferenceInvalid(e.to_string()))
}

/// Why a ledger operation was refused.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum LedgerError {
    /// The card cannot be used.
    #[strum(disabled)]
    #[error(transparent)]
    Card(#[from] CardError),
    /// The purchase or the points cannot be priced at the branch.
    #[strum(disabled)]
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// A field of the request is out of range; the text names it.
    #[error("{0}")]
    Invalid(String),
    /// The member has fewer points available than asked for.
    #[error("the member has {available} points available; {requested} were asked for")]
    InsufficientPoints {
        /// Points available.
        available: Points,
        /// Points asked for.
        requested: Points,
    },
    /// No transfer of this partner has this id.
    #[error("no transfer {0} of this partner")]
    TransferNotFound(TransferId),
    /// The transfer is not a redemption hold.
    #[error("transfer {0} is not a redemption hold")]
    NotAHold(TransferId),
    /// The transfer is not a pending earn.
    #[error("transfer {0} is not a pending earn")]
    NotAPendingEarn(TransferId),
    /// The hold's timeout passed.
    #[error("the hold expired at {0} and its points were released")]
    HoldExpired(DateTime<Utc>),
    /// The hold was captured already.
    #[error("the hold was already captured")]
    HoldAlreadyCaptured,
    /// The hold was voided already.
    #[error("the hold was already voided")]
    HoldAlreadyVoided,
    /// The earn was posted already.
    #[error("the earn was already posted")]
    EarnAlreadyPosted,
    /// The earn was voided already.
    #[error("the earn was already voided")]
    EarnAlreadyVoided,
    /// The capture asks for more than the hold holds.
    #[error("the capture asks for more than the {held} points held")]
    CaptureExceedsHold {
        /// Points held.
        held: Points,
    },
    /// The transfer cannot be reversed; the text says why.
    #[error("{0}")]
    NotReversible(String),
    /// The reversal asks for more than is left of the original.
    #[error("only {remaining} points of the original are left to reverse")]
    ReversalExceedsOriginal {
        /// Points left to reverse.
        remaining: Points,
    },
    /// The partner's reference is empty, too long or not plain text; the text says which.
    #[error("{0}")]
    ReferenceInvalid(String),
    /// The partner's reference names another transfer of the same type.
    #[error("this partner reference is already used by another transfer of the same type")]
    ReferenceTaken,
    /// The hold's lifetime is out of range.
    #[error("a hold may last 1 to {max_secs} seconds")]
    HoldTimeoutInvalid {
        /// The longest hold allowed.
        max_secs: u64,
    },
    /// The release time is out of range.
    #[error("release_at must be in the future and within {max_days} days")]
    ReleaseAtInvalid {
        /// How far ahead a release may be.
        max_days: i64,
    },
    /// No bonus in force rewards events of this type.
    #[error("no bonus in force rewards {0:?} events")]
    EventTypeUnknown(String),
    /// The time an operation happened is in the future or too long ago.
    #[error("occurred_at must not be in the future nor more than {max_days} days ago")]
    OccurredAtInvalid {
        /// How far back a late operation may be.
        max_days: i64,
    },
    /// The earn rules that would price the purchase reached their caps, and it earns nothing
    /// without them.
    #[error(
        "the purchase earns no point: the earn rules that price it reached their caps for the member"
    )]
    EarnCapReached,
    /// A basket line names no category in force.
    #[error("no category {0:?} is in force")]
    CategoryUnknown(String),
    /// A basket line is out of range; the text says which.
    #[error("{0}")]
    BasketLineInvalid(String),
    /// The basket's lines do not add up to the purchase.
    #[error("{0}")]
    BasketTotalMismatch(String),
    /// The member already has this bonus for this occasion.
    #[error("bonus {bonus:?} was already awarded to the member for {occasion:?}")]
    BonusAlreadyAwarded {
        /// The bonus rule's code.
        bonus: String,
        /// The occasion's key.
        occasion: String,
    },
}

impl LedgerError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Card(err) => err.code(),
            Self::Pricing(err) => err.code(),
            Self::Invalid(_) => "invalid_request",
            Self::InsufficientPoints { .. } => "insufficient_points",
            Self::TransferNotFound(_) => "transaction_not_found",
            Self::NotAHold(_) => "not_a_hold",
            Self::NotAPendingEarn(_) => "not_a_pending_earn",
            Self::HoldExpired(_) => "hold_expired",
            Self::HoldAlreadyCaptured => "hold_already_captured",
            Self::HoldAlreadyVoided => "hold_already_voided",
            Self::EarnAlreadyPosted => "earn_already_posted",
            Self::EarnAlreadyVoided => "earn_already_voided",
            Self::CaptureExceedsHold { .. } => "capture_exceeds_hold",
            Self::NotReversible(_) => "transaction_not_reversible",
            Self::ReversalExceedsOriginal { .. } => "reversal_exceeds_original",
            Self::ReferenceInvalid(_) => "reference_invalid",
            Self::ReferenceTaken => "reference_already_used",
            Self::HoldTimeoutInvalid { .. } => "hold_timeout_invalid",
            Self::ReleaseAtInvalid { .. } => "release_at_invalid",
            Self::EventTypeUnknown(_) => "event_type_unknown",
            Self::OccurredAtInvalid { .. } => "occurred_at_invalid",
            Self::BonusAlreadyAwarded { .. } => "bonus_already_awarded",
            Self::EarnCapReached => "earn_cap_reached",
            Self::CategoryUnknown(_) => "category_unknown",
            Self::BasketLineInvalid(_) => "basket_line_invalid",
            Self::BasketTotalMismatch(_) => "basket_total_mismatch",
        }
    }
}

impl From<crate::program::earning::BasketError> for LedgerError {
    fn from(err: crate::program::earning::BasketError) -> Self {
        use crate::program::earning::BasketError;
        match err {
            BasketError::LineInvalid(why) => Self::BasketLineInvalid(why),
            BasketError::TotalMismatch { .. } => Self::BasketTotalMismatch(err.to_string()),
        }
    }
}

impl From<crate::partners::BranchError> for LedgerError {
    fn from(err: crate::partners::BranchError) -> Self {
        Self::Pricing(err.into())
    }
}

impl From<crate::cards::CardNumberError> for LedgerError {
    fn from(err: crate::cards::CardNumberError) -> Self {
        Self::Card(err.into())
    }
}
