//! Maintenance: what happens with time rather than at a partner's request.
//! Expired holds are voided (their points go back to the member), pending earns
//! whose release time has come are posted, and expired lots go to breakage.
//! Every read and spend already treats expired holds and lots as what they are;
//! maintenance writes it down for the members nobody touched.
//!
//! Each item runs in its own transaction that locks the member's account first,
//! in the same order as partner operations, so maintenance never deadlocks with
//! them and several gateway instances can run it at once.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::{AccountId, MemberId, TransferId};
use domain::ledger::{LedgerError, Phase, TransferCode};
use domain::points::Points;
use domain::program::ProgramSettings;
use storage::{Connection, Storage};

use super::{earn, postings};
use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// What one maintenance run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Holds voided at their timeout.
    pub holds_expired: u64,
    /// Pending earns posted at their release time.
    pub earns_released: u64,
    /// Points moved to breakage.
    pub points_expired: Points,
}

const BATCH: i64 = 500;

/// Resolves one due pending transfer; returns the member whose points changed.
async fn resolve_due(
    conn: &mut Connection,
    settings: &ProgramSettings,
    id: TransferId,
    now: DateTime<Utc>,
    report: &mut MaintenanceReport,
) -> Result<Option<MemberId>> {
    let Some(pending) = storage::ledger::find_transfer(conn, id).await? else {
        return Ok(None);
    };
    let Some(member_id) = pending.member_id else {
        return Ok(None);
    };
    storage::ledger::lock_member_account(conn, member_id).await?;
    // Re-read under the lock: a partner (or a spend that voided it) may have resolved it meanwhile.
    if storage::ledger::resolution_of(conn, id).await?.is_some()
        || pending.timeout_at.is_none_or(|t| t > now)
    {
        return Ok(None);
    }
    postings::expire_due_lots(conn, member_id, now).await?;
    if pending.code == TransferCode::Redeem {
        postings::release_hold(conn, &pending, None, now).await?;
        report.holds_expired += 1;
    } else if pending.phase == Phase::Pending {
        earn::release_due(conn, settings, &pending, now).await?;
        report.earns_released += 1;
    }
    Ok(Some(member_id))
}

/// Expires one account's due lots; returns the member whose points changed.
async fn expire_account(
    conn: &mut Connection,
    account_id: AccountId,
    now: DateTime<Utc>,
    report: &mut MaintenanceReport,
) -> Result<Option<MemberId>> {
    let Some(member_id) = storage::ledger::member_of_account(conn, account_id).await? else {
        return Ok(None);
    };
    storage::ledger::lock_member_account(conn, member_id).await?;
    let expiry = postings::expire_due_lots(conn, member_id, now).await?;
    if let Some(expiry) = &expiry {
        report.points_expired += expiry.amount;
    }
    Ok(expiry.map(|_| member_id))
}

/// Voids expired holds, releases due pending earns and expires due lots, as of `now`.
#[tracing::instrument(skip_all)]
pub async fn run(
    storage: &Storage,
    settings: &ProgramSettings,
    now: DateTime<Utc>,
) -> Result<MaintenanceReport> {
    storage::card_cache::retry_bumps(storage).await;
    storage::nonces::forget_expired(storage).await?;
    let now = domain::time::stored(now);
    let mut report = MaintenanceReport::default();
    let mut conn = storage.db().await?;
    loop {
        let due = storage::ledger::due_pending(&mut conn, now, BATCH).await?;
        let is_full_batch = i64::try_from(due.len()).unwrap_or(0) == BATCH;
        let before = report;
        for id in due {
            let mut step = MaintenanceReport::default();
            let changed = conn
                .transaction::<_, OperationError<LedgerError>, _>(async |conn| {
                    resolve_due(conn, settings, id, now, &mut step).await
                })
                .await?;
            if let Some(member_id) = changed {
                storage::card_cache::bump(storage, member_id).await;
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
        let accounts = storage::ledger::accounts_with_due_lots(&mut conn, now, BATCH).await?;
        let before = report;
        for account_id in accounts {
            let mut step = MaintenanceReport::default();
            let changed = conn
                .transaction::<_, OperationError<LedgerError>, _>(async |conn| {
                    expire_account(conn, account_id, now, &mut step).await
                })
                .await?;
            if let Some(member_id) = changed {
                storage::card_cache::bump(storage, member_id).await;
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
            points_expired = %report.points_expired,
            "maintenance: {} holds expired, {} earns released, {} points expired",
            report.holds_expired,
            report.earns_released,
            report.points_expired
        );
    }
    Ok(report)
}
