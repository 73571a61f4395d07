//! Earning points: a purchase at a partner's branch credits the member and debits
//! the partner's issuance account. An earn may be pending until a release time
//! (a hotel stay, a return period): then it is posted (by the partner, or by
//! maintenance at the release time) or voided.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::prepare::{self, Lookups};
use super::{LedgerError, Movement, Phase, ProgramSettings, Teller, TransferCode, TransferState};
use super::{batch, postings};
use crate::domain::cards::CardNumber;
use crate::storage::ledger as rows;

/// A purchase that earns points.
#[derive(Debug, Clone)]
pub struct EarnRequest {
    /// Branch code (or id) of the calling partner.
    pub branch: String,
    pub card: CardNumber,
    pub amount_minor: i64,
    pub currency: String,
    /// The partner's own order reference (unique per partner among its earns).
    pub reference: String,
    /// Keep the points pending until this time.
    pub release_at: Option<DateTime<Utc>>,
}

/// Records the earn for a purchase, in its own batch on the caller's transaction.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id))]
pub async fn earn(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    request: EarnRequest,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let op = prepare::earn_op(&mut Lookups::Conn(conn), settings, teller, request, now).await?;
    batch::apply_one(conn, settings, &op, now).await
}

async fn pending_earn(
    conn: &mut AsyncPgConnection,
    teller: &Teller,
    id: Uuid,
) -> Result<rows::TransferRow, LedgerError> {
    let transfer = rows::find_transfer(conn, id)
        .await?
        .filter(|t| t.partner_id == Some(teller.partner_id.0))
        .ok_or(LedgerError::TransferNotFound(id))?;
    if transfer.code != TransferCode::Earn.as_str() || transfer.phase != Phase::Pending.as_str() {
        return Err(LedgerError::NotAPendingEarn(id));
    }
    Ok(transfer)
}

async fn resolve_earn(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    id: Uuid,
    is_post: bool,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let pending = pending_earn(conn, teller, id).await?;
    let member_id = pending.member_id.ok_or(LedgerError::NotAPendingEarn(id))?;
    let account = rows::lock_member_account(conn, member_id).await?;
    match postings::state_of(conn, &pending).await? {
        super::TransferState::Pending => {}
        super::TransferState::Posted => return Err(LedgerError::EarnAlreadyPosted),
        super::TransferState::Voided => return Err(LedgerError::EarnAlreadyVoided),
    }
    postings::expire_due_lots(conn, &account, now).await?;
    let resolution = postings::resolve(
        conn,
        &pending,
        is_post.then_some((pending.amount, pending.money_minor)),
        teller.idempotency_key.clone(),
        now,
    )
    .await?;
    if is_post {
        postings::open_lot(conn, settings, &resolution, account.id, now).await?;
    }
    Ok(Movement {
        transfer: resolution.into(),
        state: if is_post {
            TransferState::Posted
        } else {
            TransferState::Voided
        },
        balance: postings::balance(conn, member_id).await?,
    })
}

/// Releases a pending earn's points to the member now.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id = %id))]
pub async fn post_earn(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    resolve_earn(conn, settings, teller, id, true, now).await
}

/// Cancels a pending earn (the stay was cancelled, the goods returned).
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id = %id))]
pub async fn void_earn(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    resolve_earn(conn, settings, teller, id, false, now).await
}
