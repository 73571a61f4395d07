//! Maintenance: what happens with time rather than at a partner's request.
//! Expired holds are voided (their points go back to the member), pending earns
//! whose release time has come are posted, and expired lots go to breakage.
//!
//! Each item runs in its own transaction that locks the member's account first,
//! in the same order as partner operations, so maintenance never deadlocks with
//! them and several gateway instances can run it at once.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use uuid::Uuid;

use super::postings;
use super::{LedgerError, Phase, ProgramSettings, TransferCode};
use crate::storage::Storage;
use crate::storage::ledger as rows;

/// What one maintenance run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub holds_expired: u64,
    pub earns_released: u64,
    pub points_expired: i64,
}

const BATCH: i64 = 500;

/// Resolves one due pending transfer; returns the member whose points changed.
async fn resolve_due(
    conn: &mut AsyncPgConnection,
    settings: &ProgramSettings,
    id: Uuid,
    now: DateTime<Utc>,
    report: &mut MaintenanceReport,
) -> Result<Option<Uuid>, LedgerError> {
    let Some(pending) = rows::find_transfer(conn, id).await? else {
        return Ok(None);
    };
    let Some(member_id) = pending.member_id else {
        return Ok(None);
    };
    let account = rows::lock_member_account(conn, member_id).await?;
    // Re-read under the lock: a partner may have resolved it meanwhile.
    if rows::resolution_of(conn, id).await?.is_some() || pending.timeout_at.is_none_or(|t| t > now)
    {
        return Ok(None);
    }
    postings::expire_due_lots(conn, &account, now).await?;
    if pending.code == TransferCode::Redeem.as_str() {
        super::redeem::release_hold(conn, &pending, None, now).await?;
        report.holds_expired += 1;
    } else if pending.phase == Phase::Pending.as_str() {
        let post = postings::resolve(
            conn,
            &pending,
            Some((pending.amount, pending.money_minor)),
            None,
            now,
        )
        .await?;
        postings::open_lot(conn, settings, &post, account.id, now).await?;
        report.earns_released += 1;
    }
    Ok(Some(member_id))
}

/// Expires one account's due lots; returns the member whose points changed.
async fn expire_account(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
    report: &mut MaintenanceReport,
) -> Result<Option<Uuid>, LedgerError> {
    let Some(member_id) = rows::member_of_account(conn, account_id).await? else {
        return Ok(None);
    };
    let account = rows::lock_member_account(conn, member_id).await?;
    let expiry = postings::expire_due_lots(conn, &account, now).await?;
    if let Some(expiry) = &expiry {
        report.points_expired += expiry.amount;
    }
    Ok(expiry.map(|_| member_id))
}

/// Voids expired holds, releases due pending earns and expires due lots, as of `now`.
#[tracing::instrument(skip_all)]
pub async fn run_maintenance(
    storage: &Storage,
    settings: &ProgramSettings,
    now: DateTime<Utc>,
) -> Result<MaintenanceReport, LedgerError> {
    crate::storage::card_cache::retry_bumps(storage).await;
    crate::storage::nonces::forget_expired(storage).await?;
    let mut report = MaintenanceReport::default();
    let mut conn = storage.db().await?;
    loop {
        let due = rows::due_pending(&mut conn, now, BATCH).await?;
        let is_full_batch = i64::try_from(due.len()).unwrap_or(0) == BATCH;
        let before = report;
        for id in due {
            let mut step = MaintenanceReport::default();
            let changed = conn
                .transaction::<_, LedgerError, _>(async |conn| {
                    resolve_due(conn, settings, id, now, &mut step).await
                })
                .await?;
            if let Some(member_id) = changed {
                super::committed(storage, member_id).await;
            }
            report.holds_expired += step.holds_expired;
            report.earns_released += step.earns_released;
        }
        // Stop when the batch was the last, or when nothing could be resolved (never spin).
        if !is_full_batch || report == before {
            break;
        }
    }
    loop {
        let accounts = rows::accounts_with_due_lots(&mut conn, now, BATCH).await?;
        let before = report;
        for account_id in accounts {
            let mut step = MaintenanceReport::default();
            let changed = conn
                .transaction::<_, LedgerError, _>(async |conn| {
                    expire_account(conn, account_id, now, &mut step).await
                })
                .await?;
            if let Some(member_id) = changed {
                super::committed(storage, member_id).await;
            }
            report.points_expired += step.points_expired;
        }
        if report == before {
            break;
        }
    }
    if report != MaintenanceReport::default() {
        tracing::info!(
            holds_expired = report.holds_expired,
            earns_released = report.earns_released,
            points_expired = report.points_expired,
            "maintenance: {} holds expired, {} earns released, {} points expired",
            report.holds_expired,
            report.earns_released,
            report.points_expired
        );
    }
    Ok(report)
}
