//! Redeeming points for a discount: in one step, or as a hold (authorize) that is
//! later captured, in whole or in part, or voided. Holds expire on their own.
//!
//! Points leave the member's lots when they are held, so a hold can never be
//! paid twice; a partial capture or a void gives the rest back to the same lots.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::prepare::{self, Lookups};
use super::{LedgerError, Movement, Phase, ProgramSettings, Teller, TransferCode, TransferState};
use super::{batch, postings};
use crate::domain::cards::CardNumber;
use crate::storage::ledger as rows;

/// A redemption at the till.
#[derive(Debug, Clone)]
pub struct RedeemRequest {
    pub branch: String,
    pub card: CardNumber,
    pub points: i64,
    pub reference: String,
    /// `Some`: only hold the points (authorize) for this long, or the default when `Some(None)`.
    pub hold: Option<Option<Duration>>,
}

/// Redeems (or holds) points at the partner's branch, in its own batch on the caller's transaction.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id))]
pub async fn redeem(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    request: RedeemRequest,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let op = prepare::redeem_op(&mut Lookups::Conn(conn), settings, teller, request).await?;
    batch::apply_one(conn, settings, &op, now).await
}

async fn open_hold(
    conn: &mut AsyncPgConnection,
    teller: &Teller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(rows::TransferRow, Uuid), LedgerError> {
    let hold = rows::find_transfer(conn, id)
        .await?
        .filter(|t| t.partner_id == Some(teller.partner_id.0))
        .ok_or(LedgerError::TransferNotFound(id))?;
    if hold.code != TransferCode::Redeem.as_str() || hold.phase != Phase::Pending.as_str() {
        return Err(LedgerError::NotAHold(id));
    }
    let member_id = hold.member_id.ok_or(LedgerError::NotAHold(id))?;
    rows::lock_member_account(conn, member_id).await?;
    match rows::resolution_of(conn, id).await? {
        None => {}
        Some(r) if r.phase == Phase::Post.as_str() => return Err(LedgerError::HoldAlreadyCaptured),
        // Only maintenance voids without an idempotency key: the hold timed out.
        Some(r) if r.idempotency_key.is_none() => {
            return Err(LedgerError::HoldExpired(
                hold.timeout_at.unwrap_or(r.created_at),
            ));
        }
        Some(_) => return Err(LedgerError::HoldAlreadyVoided),
    }
    if let Some(timeout_at) = hold.timeout_at
        && timeout_at <= now
    {
        return Err(LedgerError::HoldExpired(timeout_at));
    }
    Ok((hold, member_id))
}

/// Captures `points` of a hold (all of it when `None`); the rest goes back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id = %id))]
pub async fn capture(
    conn: &mut AsyncPgConnection,
    teller: &Teller,
    id: Uuid,
    points: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let (hold, member_id) = open_hold(conn, teller, id, now).await?;
    let points = points.unwrap_or(hold.amount);
    if points > hold.amount {
        return Err(LedgerError::CaptureExceedsHold { held: hold.amount });
    }
    // The discount of the captured part, at the value per point the hold was priced at.
    let discount = hold
        .money_minor
        .and_then(|m| super::proportion(m, points, hold.amount));
    let capture = postings::resolve(
        conn,
        &hold,
        Some((points, discount)),
        teller.idempotency_key.clone(),
        now,
    )
    .await?;
    if points < hold.amount {
        let taken = rows::net_allocations(conn, &[hold.id]).await?;
        let restored = postings::restore_lots(conn, taken, hold.amount - points).await?;
        rows::allocate(conn, capture.id, &restored).await?;
    }
    Ok(Movement {
        transfer: capture.into(),
        state: TransferState::Posted,
        balance: postings::balance(conn, member_id).await?,
    })
}

/// Releases a hold: all its points go back to the member.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id = %id))]
pub async fn void_hold(
    conn: &mut AsyncPgConnection,
    teller: &Teller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let (hold, member_id) = open_hold(conn, teller, id, now).await?;
    let void = release_hold(conn, &hold, teller.idempotency_key.clone(), now).await?;
    Ok(Movement {
        transfer: void.into(),
        state: TransferState::Voided,
        balance: postings::balance(conn, member_id).await?,
    })
}

/// Voids a hold and gives its points back to the lots they came from (also used on expiry).
pub(super) async fn release_hold(
    conn: &mut AsyncPgConnection,
    hold: &rows::TransferRow,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<rows::TransferRow, LedgerError> {
    let void = postings::resolve(conn, hold, None, idempotency_key, now).await?;
    let taken = rows::net_allocations(conn, &[hold.id]).await?;
    let restored = postings::restore_lots(conn, taken, hold.amount).await?;
    rows::allocate(conn, void.id, &restored).await?;
    Ok(void)
}
