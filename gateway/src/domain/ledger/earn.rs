//! Earning points: a purchase at a partner's branch credits the member and debits
//! the partner's issuance account. An earn may be pending until a release time
//! (a hotel stay, a return period): then it is posted (by the partner, or by
//! maintenance at the release time) or voided.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::postings::{self, NewTransfer};
use super::{LedgerError, Movement, Phase, ProgramSettings, Teller, TransferCode, TransferState};
use crate::domain::cards::CardNumber;
use crate::domain::rules;
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

/// Records the earn for a purchase.
#[tracing::instrument(skip_all, fields(partner.id = %teller.partner_id, transfer.id))]
pub async fn earn(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    teller: &Teller,
    request: EarnRequest,
    now: DateTime<Utc>,
) -> Result<Movement, LedgerError> {
    let branch = postings::branch_of(conn, teller.partner_id, &request.branch).await?;
    let rule = rules::for_branch(conn, teller.partner_id, branch.id)
        .await?
        .ok_or(LedgerError::RuleMissing)?;
    if rule.currency != request.currency {
        return Err(LedgerError::CurrencyMismatch {
            expected: rule.currency,
        });
    }
    let points = rule
        .points_for(request.amount_minor)
        .ok_or(LedgerError::AmountTooLarge)?;
    if points == 0 {
        return Err(LedgerError::PurchaseTooSmall);
    }
    if let Some(release_at) = request.release_at
        && (release_at <= now || release_at > now + settings.max_release)
    {
        return Err(LedgerError::ReleaseAtInvalid {
            max_days: settings.max_release.num_days(),
        });
    }
    let (card, member) = postings::usable_card(conn, &request.card).await?;
    let account = rows::lock_member_account(conn, member.id).await?;
    postings::expire_due_lots(conn, &account, now).await?;
    rows::ensure_partner_accounts(conn, teller.partner_id.0).await?;

    let phase = if request.release_at.is_some() {
        Phase::Pending
    } else {
        Phase::Single
    };
    let mut transfer = postings::row(
        NewTransfer {
            debit: rows::partner_account_id(teller.partner_id.0, "partner_issuance"),
            credit: account.id,
            amount: points,
            code: TransferCode::Earn,
            phase,
        },
        now,
    );
    postings::at_till(
        &mut transfer,
        teller,
        member.id,
        &branch,
        card.number,
        request.reference,
    );
    transfer.money_minor = Some(request.amount_minor);
    transfer.currency = Some(rule.currency);
    transfer.timeout_at = request.release_at;
    postings::write(conn, &transfer, 0).await?;
    let state = match request.release_at {
        Some(release_at) => {
            rows::insert_pending(conn, transfer.id, release_at).await?;
            TransferState::Pending
        }
        None => {
            postings::open_lot(conn, settings, &transfer, account.id, now).await?;
            TransferState::Posted
        }
    };
    tracing::Span::current().record("transfer.id", tracing::field::display(transfer.id));
    tracing::info!(points, "earned {points} points ({})", state.as_str());
    Ok(Movement {
        transfer: transfer.into(),
        state,
        balance: postings::balance(conn, member.id).await?,
    })
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
