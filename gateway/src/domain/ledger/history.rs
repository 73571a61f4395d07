//! A partner's own transactions, newest first, filtered by time and type.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{LedgerError, Transfer, TransferCode, TransferState, postings};
use crate::domain::partners::PartnerId;
use crate::storage::Storage;
use crate::storage::ledger::{self as rows, TransferFilter};

/// Which transactions to list.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub codes: Vec<TransferCode>,
    /// List transactions older than this one (the previous page's cursor).
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// One page of the partner's transactions and the cursor of the next.
pub async fn transactions(
    storage: &Storage,
    partner_id: PartnerId,
    query: &HistoryQuery,
) -> Result<(Vec<(Transfer, TransferState)>, Option<Uuid>), LedgerError> {
    let mut conn = storage.db().await?;
    let filter = TransferFilter {
        from: query.from,
        to: query.to,
        codes: query.codes.iter().map(|c| c.as_str().to_owned()).collect(),
        before: query.before,
        // One more than asked tells whether there is a next page.
        limit: query.limit + 1,
    };
    let mut found = rows::list_for_partner(&mut conn, partner_id.0, &filter).await?;
    let has_more = i64::try_from(found.len()).unwrap_or(i64::MAX) > query.limit;
    found.truncate(usize::try_from(query.limit).unwrap_or(0));
    let next = if has_more {
        found.last().map(|t| t.id)
    } else {
        None
    };
    let mut page = Vec::with_capacity(found.len());
    for row in found {
        let state = postings::state_of(&mut conn, &row).await?;
        page.push((row.into(), state));
    }
    Ok((page, next))
}
