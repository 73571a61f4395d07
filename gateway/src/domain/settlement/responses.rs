//! The partner's answer to a statement (acknowledge it, or dispute named lines)
//! and the operator's resolution of a dispute.
//!
//! Answers are kept with the partner's signed request, so either side can later
//! show a third party exactly what was agreed. A resolution that accepts a
//! disputed line posts an adjustment transfer that reverses the line's money;
//! the next statement settles it.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use uuid::Uuid;

use super::SettlementError;
use crate::domain::ledger::postings::{self, NewTransfer};
use crate::domain::ledger::{LedgerError, Phase, TransferCode};
use crate::domain::partners::PartnerId;
use crate::storage::ledger::{self as ledger_rows, ADJUSTMENTS_ACCOUNT};
use crate::storage::settlement::{self as rows, ResponseRow, StatementRow};
use crate::storage::{Storage, StorageError};

/// Where a statement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStatus {
    Issued,
    Acknowledged,
    Disputed,
    Resolved,
}

impl StatementStatus {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Acknowledged => "acknowledged",
            Self::Disputed => "disputed",
            Self::Resolved => "resolved",
        }
    }

    /// The status after these responses (of one statement).
    pub fn of<'a>(responses: impl IntoIterator<Item = &'a ResponseRow>) -> Self {
        responses
            .into_iter()
            .fold(Self::Issued, |status, r| match r.kind.as_str() {
                "resolution" => Self::Resolved,
                "dispute" if status != Self::Resolved => Self::Disputed,
                "acknowledgement" => Self::Acknowledged,
                _ => status,
            })
    }
}

/// Why an answer or a resolution was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no statement {0}")]
    NotFound(Uuid),
    #[error(
        "the statement's SHA-256 is {actual}; the request names {named}: fetch the statement again"
    )]
    HashMismatch { named: String, actual: String },
    #[error("statement {0} was already acknowledged or disputed")]
    AlreadyAnswered(Uuid),
    #[error("statement {0} is not disputed")]
    NotDisputed(Uuid),
    #[error("statement {0} was already resolved")]
    AlreadyResolved(Uuid),
    #[error("transfer {0} is not a line of this statement")]
    LineNotInStatement(Uuid),
    #[error("line {0} was not disputed")]
    LineNotDisputed(Uuid),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Settlement(#[from] SettlementError),
}

impl From<StorageError> for AnswerError {
    fn from(err: StorageError) -> Self {
        Self::Settlement(err.into())
    }
}

impl From<diesel::result::Error> for AnswerError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Settlement(err.into())
    }
}

impl From<LedgerError> for AnswerError {
    fn from(err: LedgerError) -> Self {
        match err {
            LedgerError::Storage(e) => e.into(),
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// The partner's own statement (another partner's is "not found", never "forbidden").
async fn own_statement(
    conn: &mut AsyncPgConnection,
    partner_id: Option<PartnerId>,
    id: Uuid,
) -> Result<StatementRow, AnswerError> {
    rows::statement(conn, id)
        .await?
        .filter(|s| partner_id.is_none_or(|p| p.0 == s.partner_id))
        .ok_or(AnswerError::NotFound(id))
}

fn check_hash(row: &StatementRow, named: &str) -> Result<(), AnswerError> {
    let actual = partners::settlement::hex(&row.payload_sha256);
    if named.eq_ignore_ascii_case(&actual) {
        Ok(())
    } else {
        Err(AnswerError::HashMismatch {
            named: named.to_owned(),
            actual,
        })
    }
}

/// An answer from the statement's partner.
#[derive(Debug, Clone)]
pub struct PartnerAnswer {
    pub partner_id: PartnerId,
    pub statement_id: Uuid,
    pub statement_sha256: String,
    /// Empty for an acknowledgement.
    pub disputed_lines: Vec<Uuid>,
    pub reason: Option<String>,
    pub key_id: String,
    pub signed_request: serde_json::Value,
}

/// Records an acknowledgement (no lines) or a dispute (lines and a reason).
#[tracing::instrument(skip_all, fields(partner.id = %answer.partner_id, statement.id = %answer.statement_id))]
pub async fn answer(
    conn: &mut AsyncPgConnection,
    answer: PartnerAnswer,
    now: DateTime<Utc>,
) -> Result<ResponseRow, AnswerError> {
    let statement = own_statement(conn, Some(answer.partner_id), answer.statement_id).await?;
    check_hash(&statement, &answer.statement_sha256)?;
    let kind = if answer.disputed_lines.is_empty() {
        "acknowledgement"
    } else {
        let reason = answer.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(AnswerError::Invalid(
                "a dispute needs a reason of 1 to 2000 characters".into(),
            ));
        }
        if let Some(stray) = rows::lines_outside(conn, statement.id, &answer.disputed_lines).await?
        {
            return Err(AnswerError::LineNotInStatement(stray));
        }
        "dispute"
    };
    let mut lines = answer.disputed_lines;
    lines.sort_unstable();
    lines.dedup();
    let row = ResponseRow {
        id: Uuid::now_v7(),
        statement_id: statement.id,
        kind: kind.to_owned(),
        statement_sha256: statement.payload_sha256.clone(),
        disputed_lines: lines,
        accepted_lines: Vec::new(),
        reason: answer.reason.map(|r| r.trim().to_owned()),
        key_id: answer.key_id,
        signed_request: answer.signed_request,
        created_at: super::stored_time(now),
    };
    if !rows::insert_response(conn, &row).await? {
        return Err(AnswerError::AlreadyAnswered(statement.id));
    }
    tracing::info!(kind, "statement {} {kind}", statement.sequence);
    metrics::counter!("settlement_responses_total", "kind" => kind).increment(1);
    Ok(row)
}

/// The operator's resolution of a disputed statement.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub statement_id: Uuid,
    pub accepted_lines: Vec<Uuid>,
    pub note: String,
    pub key_id: String,
    pub signed_request: serde_json::Value,
}

/// Resolves a dispute: every accepted line gets an adjustment transfer reversing its money.
#[tracing::instrument(skip_all, fields(statement.id = %resolution.statement_id))]
pub async fn resolve(
    storage: &Storage,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<Resolved, AnswerError> {
    let mut conn = storage.db().await?;
    conn.transaction::<_, AnswerError, _>(async |conn| resolve_in(conn, resolution, now).await)
        .await
}

/// A resolution as recorded, and whether it was recorded by an earlier, identical request.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub row: ResponseRow,
    pub replayed: bool,
}

async fn resolve_in(
    conn: &mut AsyncPgConnection,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<Resolved, AnswerError> {
    let statement = own_statement(conn, None, resolution.statement_id).await?;
    let responses = rows::responses(conn, &[statement.id]).await?;
    let Some(dispute) = responses.iter().find(|r| r.kind == "dispute") else {
        return Err(AnswerError::NotDisputed(statement.id));
    };
    let note = resolution.note.trim();
    let mut accepted = resolution.accepted_lines;
    accepted.sort_unstable();
    accepted.dedup();
    // A retry of the same resolution gets the first answer; a different one is refused.
    if let Some(first) = responses.iter().find(|r| r.kind == "resolution") {
        if first.accepted_lines == accepted && first.reason.as_deref() == Some(note) {
            return Ok(Resolved {
                row: first.clone(),
                replayed: true,
            });
        }
        return Err(AnswerError::AlreadyResolved(statement.id));
    }
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(AnswerError::Invalid(
            "a resolution needs a note of 1 to 2000 characters".into(),
        ));
    }
    if let Some(stray) = accepted
        .iter()
        .find(|line| !dispute.disputed_lines.contains(line))
    {
        return Err(AnswerError::LineNotDisputed(*stray));
    }
    let row = ResponseRow {
        id: Uuid::now_v7(),
        statement_id: statement.id,
        kind: "resolution".into(),
        statement_sha256: statement.payload_sha256.clone(),
        disputed_lines: Vec::new(),
        accepted_lines: accepted.clone(),
        reason: Some(note.to_owned()),
        key_id: resolution.key_id,
        signed_request: resolution.signed_request,
        created_at: super::stored_time(now),
    };
    if !rows::insert_response(conn, &row).await? {
        return Err(AnswerError::AlreadyResolved(statement.id));
    }
    for line in &accepted {
        adjust(conn, statement.partner_id, row.id, *line, now).await?;
    }
    tracing::info!(
        accepted = accepted.len(),
        "statement {} resolved",
        statement.sequence
    );
    Ok(Resolved {
        row,
        replayed: false,
    })
}

/// Posts the adjustment that reverses one settled line's money (and moves its points
/// between the partner's account and the operator's adjustments account).
async fn adjust(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    resolution_id: Uuid,
    line: Uuid,
    now: DateTime<Utc>,
) -> Result<Uuid, AnswerError> {
    let original = ledger_rows::find_transfer(conn, line)
        .await?
        .ok_or(AnswerError::LineNotInStatement(line))?;
    let (_, money) = rows::settled_line(conn, line)
        .await?
        .ok_or(AnswerError::LineNotInStatement(line))?;
    let partner_accounts = [
        ledger_rows::partner_account_id(partner_id, "partner_issuance"),
        ledger_rows::partner_account_id(partner_id, "partner_redemption"),
    ];
    // The line moved points out of (debit) or into (credit) a partner account: undo that.
    let (debit, credit) = if partner_accounts.contains(&original.debit_account_id) {
        (ADJUSTMENTS_ACCOUNT, original.debit_account_id)
    } else {
        (original.credit_account_id, ADJUSTMENTS_ACCOUNT)
    };
    // Lock the two shared accounts in id order, as the ledger committer does.
    ledger_rows::lock_accounts(conn, &[debit, credit]).await?;
    let mut transfer = postings::row(
        NewTransfer {
            debit,
            credit,
            amount: original.amount,
            code: TransferCode::Adjustment,
            phase: Phase::Single,
        },
        now,
    );
    transfer.partner_id = Some(partner_id);
    transfer.branch_id = original.branch_id;
    transfer.card_number = original.card_number.clone();
    transfer.partner_reference = original.partner_reference.clone();
    transfer.currency = original.currency.clone();
    postings::write(conn, &transfer, 0).await?;
    rows::insert_adjustment(conn, transfer.id, resolution_id, line, -money).await?;
    Ok(transfer.id)
}
