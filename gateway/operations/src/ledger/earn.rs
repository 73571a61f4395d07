//! Earning points: a purchase at a partner's branch credits the member and debits
//! the partner's issuance account. An earn may be pending until a release time
//! (a hotel stay, a return period): then it is posted (by the partner, or by
//! maintenance at the release time) or voided.

use chrono::{DateTime, Utc};
use domain::ids::{PartnerId, TransferId};
use domain::ledger::{
    LedgerError, Movement, Phase, Purchase, Transfer, TransferCode, TransferState, lots,
};
use domain::program::ProgramSettings;
use storage::Connection;

use super::postings;
use super::prepare::{self, Lookups};
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{self, Answered, IdempotencyError, Scope};

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// Records the earn for a purchase, through the ledger committer.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id))]
pub async fn earn(
    club: &Club,
    scope: Scope,
    purchase: Purchase,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let op = prepare::price_earn(
        &mut Lookups::Cached(&club.storage),
        &club.program,
        scope.partner_id,
        Some(scope.key.as_str()),
        purchase,
        domain::time::now(),
    )
    .await;
    super::submit(club, scope, op).await
}

/// Releases a pending earn's points to the member now.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %id))]
pub async fn post_pending(
    club: &Club,
    scope: &Scope,
    id: TransferId,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    resolve_pending(club, scope, id, true).await
}

/// Cancels a pending earn (the stay was cancelled, the goods returned).
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, transfer.id = %id))]
pub async fn void_pending(
    club: &Club,
    scope: &Scope,
    id: TransferId,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    resolve_pending(club, scope, id, false).await
}

async fn resolve_pending(
    club: &Club,
    scope: &Scope,
    id: TransferId,
    is_post: bool,
) -> std::result::Result<Answered<Movement, LedgerError>, IdempotencyError> {
    let (partner_id, key, settings) = (
        scope.partner_id,
        scope.key.as_str().to_owned(),
        club.program.clone(),
    );
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move {
            resolve_in(
                conn,
                &settings,
                partner_id,
                Some(key),
                id,
                is_post,
                domain::time::now(),
            )
            .await
        })
    })
    .await?;
    super::committed(&club.storage, &answered).await;
    Ok(answered)
}

async fn pending_earn(
    conn: &mut Connection,
    partner_id: PartnerId,
    id: TransferId,
) -> Result<Transfer> {
    let transfer = storage::ledger::find_transfer(conn, id)
        .await?
        .filter(|t| t.partner_id == Some(partner_id))
        .ok_or(LedgerError::TransferNotFound(id))?;
    if transfer.code != TransferCode::Earn || transfer.phase != Phase::Pending {
        return Err(LedgerError::NotAPendingEarn(id).into());
    }
    Ok(transfer)
}

/// Posts (`is_post`) or voids a pending earn on the caller's transaction.
pub(crate) async fn resolve_in(
    conn: &mut Connection,
    settings: &ProgramSettings,
    partner_id: PartnerId,
    idempotency_key: Option<String>,
    id: TransferId,
    is_post: bool,
    now: DateTime<Utc>,
) -> Result<Movement> {
    let pending = pending_earn(conn, partner_id, id).await?;
    let member_id = pending.member_id.ok_or(LedgerError::NotAPendingEarn(id))?;
    storage::ledger::lock_member_account(conn, member_id).await?;
    match postings::state_of(conn, &pending, now).await? {
        TransferState::Pending => {}
        TransferState::Posted => return Err(LedgerError::EarnAlreadyPosted.into()),
        TransferState::Voided => return Err(LedgerError::EarnAlreadyVoided.into()),
    }
    postings::settle_time(conn, member_id, now).await?;
    let resolution = postings::resolve(
        conn,
        &pending,
        is_post.then_some((pending.amount, pending.money_minor)),
        idempotency_key,
        now,
    )
    .await?;
    if is_post {
        storage::ledger::insert_lot(conn, &lots::lot_of(settings, &resolution, now)).await?;
    }
    Ok(Movement {
        transfer: resolution,
        state: if is_post {
            TransferState::Posted
        } else {
            TransferState::Voided
        },
        balance: postings::balance(conn, member_id).await?,
    })
}

/// Posts a pending earn whose release time has come (maintenance), on the caller's transaction.
pub(crate) async fn release_due(
    conn: &mut Connection,
    settings: &ProgramSettings,
    pending: &Transfer,
    now: DateTime<Utc>,
) -> Result<()> {
    let post = postings::resolve(
        conn,
        pending,
        Some((pending.amount, pending.money_minor)),
        None,
        now,
    )
    .await?;
    storage::ledger::insert_lot(conn, &lots::lot_of(settings, &post, now)).await?;
    Ok(())
}
