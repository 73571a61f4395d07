//! Reversals: a new transfer in the opposite direction that references the
//! original earn or redemption, whole or partial. The reversals of one original
//! never add up to more than it posted.
//!
//! Reversing an earn takes points back from the member: from that earn's own lot
//! first, then the oldest lots. If the member has already spent them, the
//! reversal is refused with `insufficient_points` (a member account never goes
//! below zero); the partner may reverse the part that is still available.
//! Reversing a redemption gives the points back to the lots they were taken from.
//! A capture's (or a release's) id stands for its pending original: reversing a
//! capture reverses the hold it captured.

use chrono::{DateTime, Utc};
use domain::ids::PartnerId;
use domain::ledger::{
    AccountKind, LedgerError, Movement, NewTransfer, Phase, Reversal, Transfer, TransferCode,
    TransferState, lots, partner_account, proportion,
};
use domain::points::Points;
use storage::Connection;

use super::postings;
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{self, Answered, IdempotencyError, Scope};

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

fn not_reversible(why: &str) -> OperationError<LedgerError> {
    OperationError::Refused(LedgerError::NotReversible(why.to_owned()))
}

/// Reverses (part of) an earn or a redemption.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %reversal.transfer_id))]
pub async fn reverse(
    club: &Club,
    scope: &Scope,
    reversal: Reversal,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let (partner_id, key) = (scope.partner_id, scope.key.as_str().to_owned());
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move {
            reverse_in(conn, partner_id, Some(key), reversal, domain::time::now()).await
        })
    })
    .await?;
    super::committed(&club.storage, &answered).await;
    Ok(answered)
}

/// Reverses on the caller's transaction.
pub(crate) async fn reverse_in(
    conn: &mut Connection,
    partner_id: PartnerId,
    idempotency_key: Option<String>,
    reversal: Reversal,
    now: DateTime<Utc>,
) -> Result<Movement> {
    let requested = storage::ledger::find_transfer(conn, reversal.transfer_id)
        .await?
        .filter(|t| t.partner_id == Some(partner_id))
        .ok_or(LedgerError::TransferNotFound(reversal.transfer_id))?;
    let original = match requested.phase {
        Phase::Single | Phase::Pending => requested,
        Phase::Post => {
            let pending_id = requested
                .pending_id
                .ok_or(LedgerError::TransferNotFound(requested.id))?;
            storage::ledger::find_transfer(conn, pending_id)
                .await?
                .ok_or(LedgerError::TransferNotFound(pending_id))?
        }
        Phase::Void => return Err(not_reversible("a void moved no points")),
    };
    let id = original.id;
    let is_earn = match original.code {
        TransferCode::Earn => true,
        TransferCode::Redeem => false,
        _ => return Err(not_reversible("only earns and redemptions can be reversed")),
    };
    let member_id = original
        .member_id
        .ok_or_else(|| not_reversible("the transfer has no member"))?;
    storage::ledger::lock_member_account(conn, member_id).await?;

    // What the original posted, and the transfers that carried it (a hold and its capture).
    let (posted, chain, own_lot) = if original.phase == Phase::Pending {
        match storage::ledger::resolution_of(conn, id).await? {
            Some(post) if post.phase == Phase::Post => {
                (post.amount, vec![original.id, post.id], post.id)
            }
            Some(_) => {
                return Err(not_reversible(
                    "the transfer was voided; nothing was posted",
                ));
            }
            None => {
                return Err(not_reversible(
                    "the transfer is still pending: void it instead",
                ));
            }
        }
    } else {
        (original.amount, vec![original.id], original.id)
    };
    let remaining = posted - storage::ledger::reversed_total(conn, id).await?;
    let points = reversal.points.unwrap_or(remaining);
    if points > remaining || remaining == Points::ZERO {
        return Err(LedgerError::ReversalExceedsOriginal { remaining }.into());
    }
    postings::settle_time(conn, member_id, now).await?;
    let account = storage::ledger::member_account(conn, member_id).await?;
    if is_earn && account.available() < points {
        return Err(LedgerError::InsufficientPoints {
            available: account.available(),
            requested: points,
        }
        .into());
    }

    let partner_account = partner_account(
        partner_id,
        if is_earn {
            AccountKind::PartnerIssuance
        } else {
            AccountKind::PartnerRedemption
        },
    );
    let (debit, credit, code) = if is_earn {
        (account.id, partner_account, TransferCode::EarnReversal)
    } else {
        (partner_account, account.id, TransferCode::RedeemReversal)
    };
    let transfer = Transfer {
        reverses_id: Some(id),
        member_id: Some(member_id),
        partner_id: Some(partner_id),
        branch_id: original.branch_id,
        card_number: original.card_number.clone(),
        partner_reference: reversal.reference,
        idempotency_key,
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
            now,
        )
    };
    postings::write(conn, &transfer, Points::ZERO).await?;

    let allocations = if is_earn {
        let open = storage::ledger::open_lots(conn, account.id).await?;
        lots::spend(&open, Some(own_lot.into()), points)
    } else {
        let mut carriers = chain;
        carriers.extend(storage::ledger::reversals_of(conn, id).await?);
        let taken = lots::net_taken(storage::ledger::allocations(conn, &carriers).await?);
        let ids: Vec<_> = taken.iter().map(|(lot, _)| *lot).collect();
        let candidates = storage::ledger::lots(conn, &ids).await?;
        lots::restore(&taken, &candidates, points)
    };
    storage::ledger::allocate(conn, transfer.id, &allocations).await?;
    tracing::info!(points = %points, "reversed {points} points of {id}");
    Ok(Movement {
        transfer,
        state: TransferState::Posted,
        balance: postings::balance(conn, member_id).await?,
    })
}
