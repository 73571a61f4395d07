//! Steps on a transfer made before: a hold captured (in whole or in part) or
//! voided, a pending earn released or cancelled, an earn or a redemption reversed.
//!
//! What a transfer is never changes, so a request checks that before the batch
//! ([`FollowUp::new`]); what may have happened to it since (a resolution, earlier
//! reversals, the lots its points went to and came back from) the batch reads
//! under the member's lock, and the books keep it up to date as they go, so two
//! steps on one transfer in one batch see each other.
//!
//! Points leave the member's lots when they are held, so a hold can never be paid
//! twice; a partial capture or a void gives the rest back to the same lots.
//! Reversing an earn takes points back from that earn's own lot first, then the
//! soonest-expiring ones, and is refused with `insufficient_points` if the member
//! has spent them (a member account never goes below zero). Reversing a
//! redemption gives the points back to the lots they were taken from. The
//! reversals of one original never add up to more than it posted.

use std::collections::HashMap;

use super::{BookError, Books};
use crate::ids::{LotId, MemberId, PartnerId, TransferId};
use crate::ledger::{
    AccountKind, LedgerError, NewTransfer, Phase, Reversal, Transfer, TransferCode, TransferState,
    lots, partner_account, proportion,
};
use crate::points::Points;
use crate::program::ProgramSettings;

/// What a follow-up does to the transfer it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Captures points of a hold (all of them when `None`); the rest go back to the member.
    Capture(Option<Points>),
    /// Voids a hold: all its points go back to the member.
    Void,
    /// Releases a pending earn's points to the member now.
    Release,
    /// Cancels a pending earn (the stay was cancelled, the goods returned).
    Cancel,
    /// Reverses (part of) an earn or a redemption: all that is left of it when `points` is `None`.
    Reverse {
        /// Points to reverse.
        points: Option<Points>,
        /// The partner's own reference (a return, a cancellation).
        reference: Option<String>,
    },
}

impl Step {
    /// The reversal's transfer, and the step that reverses it.
    pub fn reverse(reversal: Reversal) -> (TransferId, Self) {
        let step = Self::Reverse {
            points: reversal.points,
            reference: reversal.reference,
        };
        (reversal.transfer_id, step)
    }
}

/// A step on a transfer made before, checked against what that transfer is.
#[derive(Debug, Clone)]
pub struct FollowUp {
    /// The partner asking (the transfer's own).
    pub partner_id: PartnerId,
    /// The request's idempotency key.
    pub idempotency_key: Option<String>,
    /// The transfer followed, as stored: a hold, a pending earn, or the earn or redemption
    /// reversed (for a capture or a release, its pending original).
    pub original: Transfer,
    /// Its member.
    pub member_id: MemberId,
    /// What to do.
    pub step: Step,
}

impl FollowUp {
    /// Checks that the partner's transfer `original` can take `step`.
    pub fn new(
        partner_id: PartnerId,
        idempotency_key: Option<String>,
        original: Transfer,
        step: Step,
    ) -> Result<Self, LedgerError> {
        let id = original.id;
        if original.partner_id != Some(partner_id) {
            return Err(LedgerError::TransferNotFound(id));
        }
        let member_id = match &step {
            Step::Capture(_) | Step::Void => original
                .member_id
                .filter(|_| original.code == TransferCode::Redeem)
                .filter(|_| original.phase == Phase::Pending)
                .ok_or(LedgerError::NotAHold(id))?,
            Step::Release | Step::Cancel => original
                .member_id
                .filter(|_| original.code == TransferCode::Earn)
                .filter(|_| original.phase == Phase::Pending)
                .ok_or(LedgerError::NotAPendingEarn(id))?,
            Step::Reverse { .. } => {
                match original.phase {
                    Phase::Single | Phase::Pending => {}
                    Phase::Void => return Err(not_reversible("a void moved no points")),
                    // A resolution stands for its pending original, which the caller follows.
                    Phase::Post => return Err(LedgerError::TransferNotFound(id)),
                }
                if !matches!(original.code, TransferCode::Earn | TransferCode::Redeem) {
                    return Err(not_reversible("only earns and redemptions can be reversed"));
                }
                original
                    .member_id
                    .ok_or_else(|| not_reversible("the transfer has no member"))?
            }
        };
        Ok(Self {
            partner_id,
            idempotency_key,
            original,
            member_id,
            step,
        })
    }

    /// Points it may take from the member's lots (at most): only an earn's reversal takes any.
    pub(super) fn points_to_spend(&self) -> Points {
        match &self.step {
            Step::Reverse { .. } if self.original.code == TransferCode::Earn => {
                self.original.amount
            }
            _ => Points::ZERO,
        }
    }
}

fn not_reversible(why: &str) -> LedgerError {
    LedgerError::NotReversible(why.to_owned())
}

/// What has happened to a followed transfer so far.
#[derive(Debug, Clone, Default)]
pub(super) struct Followed {
    /// The post or void that resolved it, if it was pending.
    pub(super) resolution: Option<Transfer>,
    /// Points its reversals took back.
    pub(super) reversed: Points,
    /// What it and the transfers that followed it took from each lot (negative: gave back).
    pub(super) taken: Vec<(LotId, Points)>,
}

impl Followed {
    /// Indexes what a batch read by the transfer followed.
    pub(super) fn index(
        followers: Vec<Transfer>,
        allocations: Vec<(TransferId, LotId, Points)>,
    ) -> HashMap<TransferId, Self> {
        let mut followed: HashMap<TransferId, Self> = HashMap::new();
        let mut original_of: HashMap<TransferId, TransferId> = HashMap::new();
        for follower in followers {
            if let Some(original) = follower.reverses_id {
                original_of.insert(follower.id, original);
                followed.entry(original).or_default().reversed += follower.amount;
            } else if let Some(original) = follower.pending_id {
                original_of.insert(follower.id, original);
                followed.entry(original).or_default().resolution = Some(follower);
            }
        }
        for (transfer, lot, points) in allocations {
            let original = original_of.get(&transfer).copied().unwrap_or(transfer);
            followed
                .entry(original)
                .or_default()
                .taken
                .push((lot, points));
        }
        followed
    }
}

impl Books<'_> {
    /// Decides a follow-up (the member's time has been settled).
    pub(super) fn apply_follow_up(
        &mut self,
        op: &FollowUp,
        settings: &ProgramSettings,
    ) -> Result<(Transfer, TransferState), BookError> {
        let followed = self
            .followed
            .get(&op.original.id)
            .cloned()
            .unwrap_or_default();
        match &op.step {
            Step::Capture(points) => self.capture(op, &followed, *points),
            Step::Void => self.void_hold(op, &followed),
            Step::Release | Step::Cancel => self.resolve_earn(op, &followed, settings),
            Step::Reverse { points, reference } => {
                self.reverse(op, &followed, *points, reference.clone())
            }
        }
    }

    /// Refuses a step on a hold that is no longer open.
    fn open_hold(&self, hold: &Transfer, followed: &Followed) -> Result<(), LedgerError> {
        match &followed.resolution {
            None => {}
            Some(r) if r.phase == Phase::Post => return Err(LedgerError::HoldAlreadyCaptured),
            // Only time voids without an idempotency key: the hold timed out.
            Some(r) if r.idempotency_key.is_none() => {
                return Err(LedgerError::HoldExpired(
                    hold.timeout_at.unwrap_or(r.created_at),
                ));
            }
            Some(_) => return Err(LedgerError::HoldAlreadyVoided),
        }
        match hold.timeout_at {
            Some(timeout_at) if timeout_at <= self.now => Err(LedgerError::HoldExpired(timeout_at)),
            _ => Ok(()),
        }
    }

    fn capture(
        &mut self,
        op: &FollowUp,
        followed: &Followed,
        points: Option<Points>,
    ) -> Result<(Transfer, TransferState), BookError> {
        let hold = &op.original;
        self.open_hold(hold, followed)?;
        let points = points.unwrap_or(hold.amount);
        if points > hold.amount {
            return Err(LedgerError::CaptureExceedsHold { held: hold.amount }.into());
        }
        // The discount of the captured part, at the value per point the hold was priced at.
        let discount = hold
            .money_minor
            .and_then(|m| proportion(m, points, hold.amount));
        let capture = hold.resolution(
            Some((points, discount)),
            op.idempotency_key.clone(),
            self.now,
        );
        self.resolve(op, capture.clone(), followed, hold.amount - points);
        Ok((capture, TransferState::Posted))
    }

    fn void_hold(
        &mut self,
        op: &FollowUp,
        followed: &Followed,
    ) -> Result<(Transfer, TransferState), BookError> {
        let hold = &op.original;
        self.open_hold(hold, followed)?;
        let void = hold.resolution(None, op.idempotency_key.clone(), self.now);
        self.resolve(op, void.clone(), followed, hold.amount);
        Ok((void, TransferState::Voided))
    }

    fn resolve_earn(
        &mut self,
        op: &FollowUp,
        followed: &Followed,
        settings: &ProgramSettings,
    ) -> Result<(Transfer, TransferState), BookError> {
        let pending = &op.original;
        match TransferState::of(pending, followed.resolution.as_ref(), self.now) {
            TransferState::Pending => {}
            TransferState::Posted => return Err(LedgerError::EarnAlreadyPosted.into()),
            TransferState::Voided => return Err(LedgerError::EarnAlreadyVoided.into()),
        }
        let is_release = op.step == Step::Release;
        let resolution = pending.resolution(
            is_release.then_some((pending.amount, pending.money_minor)),
            op.idempotency_key.clone(),
            self.now,
        );
        if is_release {
            self.open_lot(op.member_id, lots::lot_of(settings, &resolution, self.now));
        }
        self.resolve(op, resolution.clone(), followed, Points::ZERO);
        let state = if is_release {
            TransferState::Posted
        } else {
            TransferState::Voided
        };
        Ok((resolution, state))
    }

    /// Writes the resolution of the pending original and gives `give_back` of its points back to
    /// the lots it took them from.
    fn resolve(
        &mut self,
        op: &FollowUp,
        resolution: Transfer,
        followed: &Followed,
        give_back: Points,
    ) {
        let taken = lots::net_taken(followed.taken.iter().copied());
        self.resolve_pending(op.member_id, &op.original, resolution, &taken, give_back);
    }

    fn reverse(
        &mut self,
        op: &FollowUp,
        followed: &Followed,
        points: Option<Points>,
        reference: Option<String>,
    ) -> Result<(Transfer, TransferState), BookError> {
        let original = &op.original;
        let is_earn = original.code == TransferCode::Earn;
        // What the original posted, and the lot an earn's points went to.
        let (posted, own_lot) = if original.phase == Phase::Pending {
            match &followed.resolution {
                Some(post) if post.phase == Phase::Post => (post.amount, post.id),
                Some(_) => {
                    return Err(
                        not_reversible("the transfer was voided; nothing was posted").into(),
                    );
                }
                None => {
                    return Err(
                        not_reversible("the transfer is still pending: void it instead").into(),
                    );
                }
            }
        } else {
            (original.amount, original.id)
        };
        let remaining = posted - followed.reversed;
        let points = points.unwrap_or(remaining);
        if points > remaining || remaining == Points::ZERO {
            return Err(LedgerError::ReversalExceedsOriginal { remaining }.into());
        }
        let book = self
            .members
            .get(&op.member_id)
            .ok_or(BookError::MissingAccount(op.member_id))?;
        let (account_id, available) = (book.account.id, book.account.available());
        if is_earn && available < points {
            return Err(LedgerError::InsufficientPoints {
                available,
                requested: points,
            }
            .into());
        }
        let moves = if is_earn {
            lots::spend(&book.lots, Some(own_lot.into()), points)
        } else {
            let taken = lots::net_taken(followed.taken.iter().copied());
            lots::restore(&taken, &book.lots, points)
        };
        let (partner_kind, code) = if is_earn {
            (AccountKind::PartnerIssuance, TransferCode::EarnReversal)
        } else {
            (AccountKind::PartnerRedemption, TransferCode::RedeemReversal)
        };
        let partner = partner_account(op.partner_id, partner_kind);
        let (debit, credit) = if is_earn {
            (account_id, partner)
        } else {
            (partner, account_id)
        };
        let transfer = Transfer {
            reverses_id: Some(original.id),
            member_id: Some(op.member_id),
            partner_id: Some(op.partner_id),
            branch_id: original.branch_id,
            card_number: original.card_number.clone(),
            partner_reference: reference,
            idempotency_key: op.idempotency_key.clone(),
            // Money in proportion to the points reversed, rounded down (exact for redemptions,
            // whose money is points × a whole value per point).
            money_minor: original
                .money_minor
                .and_then(|m| proportion(m, points, original.amount)),
            currency: original.currency,
            ..Transfer::new(
                NewTransfer {
                    debit,
                    credit,
                    amount: points,
                    code,
                    phase: Phase::Single,
                },
                self.now,
            )
        };
        self.move_lot_points(op.member_id, transfer.id, &moves);
        let entry = self.followed.entry(original.id).or_default();
        entry.reversed += points;
        entry.taken.extend_from_slice(&moves);
        self.post(op.member_id, transfer.clone(), Points::ZERO);
        Ok((transfer, TransferState::Posted))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::ids::AccountId;

    fn transfer(code: TransferCode, phase: Phase) -> Transfer {
        let now = crate::time::now();
        let mut transfer = Transfer::new(
            NewTransfer {
                debit: AccountId(Uuid::from_u128(1)),
                credit: AccountId(Uuid::from_u128(2)),
                amount: Points(10),
                code,
                phase,
            },
            now,
        );
        transfer.partner_id = Some(PartnerId(Uuid::from_u128(7)));
        transfer.member_id = Some(MemberId(Uuid::from_u128(9)));
        transfer
    }

    fn refusal(original: Transfer, step: Step) -> Option<&'static str> {
        let partner = PartnerId(Uuid::from_u128(7));
        FollowUp::new(partner, None, original, step)
            .err()
            .map(|e| e.code())
    }

    #[test]
    fn a_step_is_checked_against_what_the_transfer_is() {
        use Phase::{Pending, Post, Single, Void};
        use TransferCode::{Earn, Expiry, Redeem};
        let reverse = Step::Reverse {
            points: None,
            reference: None,
        };
        let cases = [
            (Redeem, Pending, Step::Capture(None), None),
            (Redeem, Single, Step::Void, Some("not_a_hold")),
            (Earn, Pending, Step::Capture(None), Some("not_a_hold")),
            (Earn, Pending, Step::Release, None),
            (Earn, Single, Step::Cancel, Some("not_a_pending_earn")),
            (Redeem, Pending, Step::Release, Some("not_a_pending_earn")),
            (Earn, Single, reverse.clone(), None),
            (Redeem, Pending, reverse.clone(), None),
            (
                Redeem,
                Void,
                reverse.clone(),
                Some("transaction_not_reversible"),
            ),
            (
                Expiry,
                Single,
                reverse.clone(),
                Some("transaction_not_reversible"),
            ),
            (Earn, Post, reverse, Some("transaction_not_found")),
        ];
        for (code, phase, step, expected) in cases {
            let seen = refusal(transfer(code, phase), step.clone());
            assert_eq!(seen, expected, "{code:?} {phase:?} {step:?}");
        }
        // Another partner's transfer is not found, whatever it is.
        let mut theirs = transfer(Redeem, Pending);
        theirs.partner_id = Some(PartnerId(Uuid::from_u128(8)));
        assert_eq!(refusal(theirs, Step::Void), Some("transaction_not_found"));
    }
}
