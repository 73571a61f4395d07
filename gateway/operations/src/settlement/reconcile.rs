//! Reconciling a partner's own transaction file against the ledger: the ledger
//! side is read first, then the file is streamed through the matcher on a
//! blocking thread (`domain::settlement::reconcile`).

use std::io::Read;

use chrono::{DateTime, Utc};
use domain::ids::TransferId;
use domain::settlement::reconcile::{self, LedgerEntry, ReconcileError, Report, Scope};
use storage::Storage;

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<ReconcileError>>;

/// Reconciles `file` for the partner with `code` over `[from, to)`.
pub async fn reconcile_partner(
    storage: &Storage,
    code: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    file: impl Read + Send + 'static,
) -> Result<Report> {
    let ledger = ledger_entries(storage, code, from, to).await?;
    let scope = Scope {
        partner: code.to_owned(),
        from,
        to,
    };
    tokio::task::spawn_blocking(move || reconcile::reconcile(scope, ledger, file))
        .await
        .map_err(|e| ReconcileError::Unreadable(e.to_string()))?
        .map_err(OperationError::Refused)
}

/// The ledger side of a reconciliation: the posted transfers of the partner with `code`
/// in `[from, to)`, oldest first.
pub async fn ledger_entries(
    storage: &Storage,
    code: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<LedgerEntry>> {
    let mut conn = storage.db().await?;
    let partner = storage::partners::find_by_code(&mut conn, code)
        .await?
        .ok_or_else(|| ReconcileError::PartnerNotFound(code.to_owned()))?;
    if from >= to {
        return Err(ReconcileError::Window.into());
    }
    Ok(storage::settlement::reconciliation_entries(
        &mut conn,
        partner.id,
        TransferId::first_at(from),
        TransferId::first_at(to),
    )
    .await?)
}
