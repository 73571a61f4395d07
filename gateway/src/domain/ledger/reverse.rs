//! Reversals: a new transfer in the opposite direction that references the
//! original earn or redemption, whole or partial. The reversals of one original
//! never add up to more than it posted.
//!
//! Reversing an earn takes points back from the member: from that earn's own lot
//! first, then the oldest lots. If the member has already spent them, the
//! reversal is refused with `insufficient_points` (a member account never goes
//! below zero); the partner may reverse the part that is still available.
//! Reversing a redemption gives the points back to the lots they were taken from.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::postings::{self, NewTransfer};
use super::{LedgerError, Movement, Phase, Teller, TransferCode, TransferState};
use crate::storage::ledger as rows;

/// A reversal of one of the partner's earns or redemptions.
#[derive(Debug, Clone)]
pub struct ReverseRequest {
    /// The id of the earn or redemption (as returned when it was made).
    pub transfer_id: Uuid,
    /// Points to reverse; all that is left when `None`.
    pub points: Option<i64>,
    pub reference: Option<String>,
}

/// Reverses (part of) an earn or a redemption.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id = %request.transfer_id))]
pub async fn reverse(
    conn: &mut AsyncPgConnection,
    teller: &Teller,
    request: ReverseRequest,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let requested = rows::find_transfer(conn, request.transfer_id)
        .await?
        .filter(|t| t.partner_id == Some(teller.partner_id.0))
        .ok_or(LedgerError::TransferNotFound(request.transfer_id))?;
    // A capture (or an earn's release) stands for its pending original: that is what is reversed.
    let original = match Phase::parse(&requested.phase) {
        Phase::Single | Phase::Pending => requested,
        Phase::Post => {
            let pending_id = requested
                .pending_id
                .ok_or(LedgerError::TransferNotFound(requested.id))?;
            rows::find_transfer(conn, pending_id)
                .await?
                .ok_or(LedgerError::TransferNotFound(pending_id))?
        }
        Phase::Void => return Err(LedgerError::NotReversible("a void moved no points")),
    };
    let id = original.id;
    let code = TransferCode::parse(&original.code);
    let is_earn = match code {
        Some(TransferCode::Earn) => true,
        Some(TransferCode::Redeem) => false,
        _ => {
            return Err(LedgerError::NotReversible(
                "only earns and redemptions can be reversed",
            ));
        }
    };
    let member_id = original
        .member_id
        .ok_or(LedgerError::NotReversible("the transfer has no member"))?;
    let account = rows::lock_member_account(conn, member_id).await?;

    // What the original posted, and the transfers that carried it (a hold and its capture).
    let (posted, chain, own_lot) = if original.phase == Phase::Pending.as_str() {
        match rows::resolution_of(conn, id).await? {
            Some(post) if post.phase == Phase::Post.as_str() => {
                (post.amount, vec![original.id, post.id], post.id)
            }
            Some(_) => {
                return Err(LedgerError::NotReversible(
                    "the transfer was voided; nothing was posted",
                ));
            }
            None => {
                return Err(LedgerError::NotReversible(
                    "the transfer is still pending: void it instead",
                ));
            }
        }
    } else {
        (original.amount, vec![original.id], original.id)
    };
    let remaining = posted - rows::reversed_total(conn, id).await?;
    let points = request.points.unwrap_or(remaining);
    if points > remaining || remaining == 0 {
        return Err(LedgerError::ReversalExceedsOriginal { remaining });
    }
    let account = match postings::expire_due_lots(conn, &account, now).await? {
        Some(_) => rows::lock_member_account(conn, member_id).await?,
        None => account,
    };
    if is_earn && account.available() < points {
        return Err(LedgerError::InsufficientPoints {
            available: account.available(),
            requested: points,
        });
    }

    let partner_account = rows::partner_account_id(
        teller.partner_id.0,
        if is_earn {
            "partner_issuance"
        } else {
            "partner_redemption"
        },
    );
    let (debit, credit, code) = if is_earn {
        (account.id, partner_account, TransferCode::EarnReversal)
    } else {
        (partner_account, account.id, TransferCode::RedeemReversal)
    };
    let mut transfer = postings::row(
        NewTransfer {
            debit,
            credit,
            amount: points,
            code,
            phase: Phase::Single,
        },
        now,
    );
    transfer.reverses_id = Some(id);
    transfer.member_id = Some(member_id);
    transfer.partner_id = Some(teller.partner_id.0);
    transfer.branch_id = original.branch_id;
    transfer.card_number = original.card_number.clone();
    transfer.partner_reference = request.reference;
    transfer.idempotency_key = teller.idempotency_key.clone();
    // Money in proportion to the points reversed, rounded down (exact for redemptions,
    // whose money is points × a whole value per point).
    transfer.money_minor = original
        .money_minor
        .and_then(|m| super::proportion(m, points, original.amount));
    transfer.currency = original.currency.clone();
    postings::write(conn, &transfer, 0).await?;

    let allocations = if is_earn {
        postings::consume_lots(conn, account.id, Some(own_lot), points).await?
    } else {
        let mut carriers = chain;
        carriers.extend(rows::reversals_of(conn, id).await?);
        let taken = rows::net_allocations(conn, &carriers).await?;
        postings::restore_lots(conn, taken, points).await?
    };
    rows::allocate(conn, transfer.id, &allocations).await?;
    tracing::info!(points, "reversed {points} points of {id}");
    Ok(Movement {
        transfer: transfer.into(),
        state: TransferState::Posted,
        balance: postings::balance(conn, member_id).await?,
    })
}
