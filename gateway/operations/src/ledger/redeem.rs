//! Redeeming points for a discount: in one step, or as a hold (authorize) that is
//! later captured, in whole or in part, or voided. Holds expire on their own: from
//! their timeout on they hold nothing, for every read and every spend.
//!
//! Points leave the member's lots when they are held, so a hold can never be
//! paid twice; a partial capture or a void gives the rest back to the same lots.

use chrono::{DateTime, Utc};
use domain::ids::{MemberId, PartnerId, TransferId};
use domain::ledger::{
    LedgerError, Movement, Phase, Redemption, Transfer, TransferCode, TransferState, proportion,
};
use domain::points::Points;
use storage::Connection;

use super::postings;
use super::prepare::{self, Lookups};
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{self, Answered, IdempotencyError, Scope};

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// Redeems (or holds) points at the partner's branch, through the ledger committer.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id))]
pub async fn redeem(
    club: &Club,
    scope: Scope,
    redemption: Redemption,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let op = prepare::price_redemption(
        &mut Lookups::Cached(&club.storage),
        &club.program,
        scope.partner_id,
        Some(scope.key.as_str()),
        redemption,
    )
    .await;
    super::submit(club, scope, op).await
}

/// Captures `points` of a hold (all of it when `None`); the rest goes back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %hold))]
pub async fn capture(
    club: &Club,
    scope: &Scope,
    hold: TransferId,
    points: Option<Points>,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let (partner_id, key) = (scope.partner_id, scope.key.as_str().to_owned());
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move {
            capture_in(
                conn,
                partner_id,
                Some(key),
                hold,
                points,
                domain::time::now(),
            )
            .await
        })
    })
    .await?;
    super::committed(&club.storage, &answered).await;
    Ok(answered)
}

/// Voids a hold: all its points go back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %hold))]
pub async fn void(
    club: &Club,
    scope: &Scope,
    hold: TransferId,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let (partner_id, key) = (scope.partner_id, scope.key.as_str().to_owned());
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(
            async move { void_in(conn, partner_id, Some(key), hold, domain::time::now()).await },
        )
    })
    .await?;
    super::committed(&club.storage, &answered).await;
    Ok(answered)
}

/// The partner's open hold `id`, with its member locked.
async fn open_hold(
    conn: &mut Connection,
    partner_id: PartnerId,
    id: TransferId,
    now: DateTime<Utc>,
) -> Result<(Transfer, MemberId)> {
    let hold = storage::ledger::find_transfer(conn, id)
        .await?
        .filter(|t| t.partner_id == Some(partner_id))
        .ok_or(LedgerError::TransferNotFound(id))?;
    if hold.code != TransferCode::Redeem || hold.phase != Phase::Pending {
        return Err(LedgerError::NotAHold(id).into());
    }
    let member_id = hold.member_id.ok_or(LedgerError::NotAHold(id))?;
    storage::ledger::lock_member_account(conn, member_id).await?;
    match storage::ledger::resolution_of(conn, id).await? {
        None => {}
        Some(r) if r.phase == Phase::Post => {
            return Err(LedgerError::HoldAlreadyCaptured.into());
        }
        // Only time voids without an idempotency key: the hold timed out.
        Some(r) if r.idempotency_key.is_none() => {
            return Err(LedgerError::HoldExpired(hold.timeout_at.unwrap_or(r.created_at)).into());
        }
        Some(_) => return Err(LedgerError::HoldAlreadyVoided.into()),
    }
    if let Some(timeout_at) = hold.timeout_at
        && timeout_at <= now
    {
        return Err(LedgerError::HoldExpired(timeout_at).into());
    }
    Ok((hold, member_id))
}

/// Captures a hold on the caller's transaction.
pub(crate) async fn capture_in(
    conn: &mut Connection,
    partner_id: PartnerId,
    idempotency_key: Option<String>,
    id: TransferId,
    points: Option<Points>,
    now: DateTime<Utc>,
) -> Result<Movement> {
    let (hold, member_id) = open_hold(conn, partner_id, id, now).await?;
    // The balance answered counts the member's other expired holds and overdue lots as gone.
    postings::settle_time(conn, member_id, now).await?;
    let points = points.unwrap_or(hold.amount);
    if points > hold.amount {
        return Err(LedgerError::CaptureExceedsHold { held: hold.amount }.into());
    }
    // The discount of the captured part, at the value per point the hold was priced at.
    let discount = hold
        .money_minor
        .and_then(|m| proportion(m, points, hold.amount));
    let capture =
        postings::resolve(conn, &hold, Some((points, discount)), idempotency_key, now).await?;
    if points < hold.amount {
        postings::give_back(conn, &hold, &capture, hold.amount - points).await?;
    }
    Ok(Movement {
        transfer: capture,
        state: TransferState::Posted,
        balance: postings::balance(conn, member_id).await?,
    })
}

/// Voids a hold on the caller's transaction.
pub(crate) async fn void_in(
    conn: &mut Connection,
    partner_id: PartnerId,
    idempotency_key: Option<String>,
    id: TransferId,
    now: DateTime<Utc>,
) -> Result<Movement> {
    let (hold, member_id) = open_hold(conn, partner_id, id, now).await?;
    postings::settle_time(conn, member_id, now).await?;
    let void = postings::release_hold(conn, &hold, idempotency_key, now).await?;
    Ok(Movement {
        transfer: void,
        state: TransferState::Voided,
        balance: postings::balance(conn, member_id).await?,
    })
}
