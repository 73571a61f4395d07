//! A partner's own transactions, newest first, filtered by time and type.

use chrono::{DateTime, Utc};
use domain::ids::{PartnerId, TransferId};
use domain::ledger::{Transfer, TransferCode, TransferState};
use storage::ledger::TransferFilter;
use storage::{Storage, StorageError};

/// Which transactions to list.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    /// Made at or after.
    pub from: Option<DateTime<Utc>>,
    /// Made before.
    pub to: Option<DateTime<Utc>>,
    /// Of these codes (all when empty).
    pub codes: Vec<TransferCode>,
    /// List transactions older than this one (the previous page's cursor).
    pub before: Option<TransferId>,
    /// At most this many.
    pub limit: i64,
}

/// One page of a partner's transactions.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The transfers, newest first, each with where it stands.
    pub transactions: Vec<(Transfer, TransferState)>,
    /// The cursor of the next page, if there is one.
    pub next: Option<TransferId>,
}

/// One page of the partner's transactions, and the cursor of the next.
pub async fn transactions(
    storage: &Storage,
    partner_id: PartnerId,
    query: &HistoryQuery,
) -> Result<HistoryPage, StorageError> {
    let mut conn = storage.db().await?;
    let filter = TransferFilter {
        from: query.from,
        to: query.to,
        codes: query.codes.clone(),
        before: query.before,
        // One more than asked tells whether there is a next page.
        limit: query.limit + 1,
    };
    let mut found = storage::ledger::list_for_partner(&mut conn, partner_id, &filter).await?;
    let has_more = i64::try_from(found.len()).unwrap_or(i64::MAX) > query.limit;
    found.truncate(usize::try_from(query.limit).unwrap_or(0));
    let next = if has_more {
        found.last().map(|t| t.id)
    } else {
        None
    };
    let pending: Vec<TransferId> = found
        .iter()
        .filter(|t| t.phase == domain::ledger::Phase::Pending)
        .map(|t| t.id)
        .collect();
    let resolutions = storage::ledger::resolutions_of(&mut conn, &pending).await?;
    let now = domain::time::now();
    let transactions = found
        .into_iter()
        .map(|transfer| {
            let resolution = resolutions
                .iter()
                .find(|r| r.pending_id == Some(transfer.id));
            let state = TransferState::of(&transfer, resolution, now);
            (transfer, state)
        })
        .collect();
    Ok(HistoryPage { transactions, next })
}

/// One of the partner's transactions and where it stands (`None` when it is another partner's,
/// or there is none).
pub async fn transaction(
    storage: &Storage,
    partner_id: PartnerId,
    id: TransferId,
) -> Result<Option<(Transfer, TransferState)>, StorageError> {
    let mut conn = storage.db().await?;
    let Some(transfer) = storage::ledger::find_transfer(&mut conn, id).await? else {
        return Ok(None);
    };
    if transfer.partner_id != Some(partner_id) {
        return Ok(None);
    }
    let resolution = if transfer.phase == domain::ledger::Phase::Pending {
        storage::ledger::resolution_of(&mut conn, id).await?
    } else {
        None
    };
    let state = TransferState::of(&transfer, resolution.as_ref(), domain::time::now());
    Ok(Some((transfer, state)))
}
