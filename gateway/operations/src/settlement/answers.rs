//! The partner's answer to a statement (acknowledge it, or dispute named lines)
//! and the operator's resolution of a dispute.
//!
//! Answers are kept with the signed request that made them, so either side can
//! later show a third party exactly what was agreed. A resolution that accepts a
//! disputed line posts an adjustment transfer that reverses the line's money;
//! the next statement settles it.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::{AnswerId, PartnerId, StatementId, TransferId};
use domain::ledger::{
    ADJUSTMENTS_ACCOUNT, AccountKind, LedgerError, NewTransfer, Phase, Transfer, TransferCode,
    partner_account,
};
use domain::points::Points;
use domain::settlement::{AnswerKind, IssuedStatement, SettlementError, StatementAnswer};
use storage::{Connection, Storage};
use uuid::Uuid;

use crate::Club;
use crate::error::OperationError;
use crate::idempotency::{self, Answered, IdempotencyError, Scope};
use crate::ledger::postings;

type Result<T> = std::result::Result<T, OperationError<SettlementError>>;

/// The partner's own statement (another partner's is "not found", never "forbidden").
async fn own_statement(
    conn: &mut Connection,
    partner_id: Option<PartnerId>,
    id: StatementId,
) -> Result<IssuedStatement> {
    storage::settlement::statement(conn, id)
        .await?
        .filter(|s| partner_id.is_none_or(|p| p == s.partner_id))
        .ok_or_else(|| SettlementError::StatementNotFound(id).into())
}

fn check_hash(issued: &IssuedStatement, named: &str) -> Result<()> {
    let actual = partners::settlement::hex(&issued.payload_sha256);
    if named.eq_ignore_ascii_case(&actual) {
        Ok(())
    } else {
        // The refusal is recorded and echoed: only a hash goes in, never arbitrary text.
        let is_hash = named.len() == 64 && named.bytes().all(|b| b.is_ascii_hexdigit());
        Err(SettlementError::HashMismatch {
            named: if is_hash {
                named.to_owned()
            } else {
                "(not a SHA-256 in hex)".to_owned()
            },
            actual,
        }
        .into())
    }
}

/// An answer from the statement's partner.
#[derive(Debug, Clone)]
pub struct PartnerAnswer {
    /// The statement answered.
    pub statement_id: StatementId,
    /// The statement hash the partner verified.
    pub statement_sha256: String,
    /// The disputed lines; empty for an acknowledgement.
    pub disputed_lines: Vec<TransferId>,
    /// The dispute's reason.
    pub reason: Option<String>,
    /// The key that signed the request.
    pub key_id: String,
    /// The request as signed.
    pub signed_request: serde_json::Value,
}

/// Records an acknowledgement (no lines) or a dispute (lines and a reason), under the
/// request's idempotency key.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, statement.id = %answer.statement_id))]
pub async fn answer(
    club: &Club,
    scope: &Scope,
    answer: PartnerAnswer,
) -> std::result::Result<Answered<StatementAnswer, SettlementError>, IdempotencyError> {
    let partner_id = scope.partner_id;
    idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move { answer_in(conn, partner_id, answer, domain::time::now()).await })
    })
    .await
}

async fn answer_in(
    conn: &mut Connection,
    partner_id: PartnerId,
    answer: PartnerAnswer,
    now: DateTime<Utc>,
) -> Result<StatementAnswer> {
    let issued = own_statement(conn, Some(partner_id), answer.statement_id).await?;
    check_hash(&issued, &answer.statement_sha256)?;
    // Whatever reason is stored is plain text.
    let reason = answer
        .reason
        .as_deref()
        .map(|r| domain::text::trimmed("reason", r, 2000))
        .transpose()
        .map_err(|e| SettlementError::ReasonInvalid(e.to_string()))?;
    let kind = if answer.disputed_lines.is_empty() {
        AnswerKind::Acknowledgement
    } else {
        if reason.is_none() {
            return Err(SettlementError::ReasonInvalid(
                "a dispute needs a reason of 1 to 2000 characters".into(),
            )
            .into());
        }
        if let Some(stray) =
            storage::settlement::lines_outside(conn, issued.id, &answer.disputed_lines).await?
        {
            return Err(SettlementError::LineNotInStatement(stray).into());
        }
        AnswerKind::Dispute
    };
    let mut lines = answer.disputed_lines;
    lines.sort_unstable();
    lines.dedup();
    let recorded = StatementAnswer {
        id: AnswerId(Uuid::now_v7()),
        statement_id: issued.id,
        kind,
        statement_sha256: issued.payload_sha256.to_vec(),
        disputed_lines: lines,
        accepted_lines: Vec::new(),
        reason,
        key_id: answer.key_id,
        signed_request: answer.signed_request,
        created_at: domain::time::stored(now),
    };
    if !storage::settlement::insert_answer(conn, &recorded).await? {
        return Err(SettlementError::AlreadyAnswered(issued.id).into());
    }
    tracing::info!(kind = kind.as_str(), "statement {} {kind}", issued.sequence);
    metrics::counter!("settlement_responses_total", "kind" => kind.as_str()).increment(1);
    Ok(recorded)
}

/// The operator's resolution of a disputed statement.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The statement.
    pub statement_id: StatementId,
    /// The disputed lines the operator accepts.
    pub accepted_lines: Vec<TransferId>,
    /// Why.
    pub note: String,
    /// The key that signed the request.
    pub key_id: String,
    /// The request as signed.
    pub signed_request: serde_json::Value,
}

/// A resolution as recorded, and whether it was recorded by an earlier, identical request.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The resolution.
    pub answer: StatementAnswer,
    /// Whether an earlier identical request recorded it.
    pub is_replay: bool,
}

/// Resolves a dispute: every accepted line gets an adjustment transfer reversing its money.
/// The same resolution again gets the first answer; another one is refused.
#[tracing::instrument(skip_all, fields(statement.id = %resolution.statement_id))]
pub async fn resolve(storage: &Storage, resolution: Resolution) -> Result<Resolved> {
    let now = domain::time::now();
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<SettlementError>, _>(async |conn| {
        resolve_in(conn, resolution, now).await
    })
    .await
}

async fn resolve_in(
    conn: &mut Connection,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<Resolved> {
    let issued = own_statement(conn, None, resolution.statement_id).await?;
    let answers = storage::settlement::answers(conn, &[issued.id]).await?;
    let Some(dispute) = answers.iter().find(|a| a.kind == AnswerKind::Dispute) else {
        return Err(SettlementError::NotDisputed(issued.id).into());
    };
    let note = resolution.note.trim();
    let mut accepted = resolution.accepted_lines;
    accepted.sort_unstable();
    accepted.dedup();
    if let Some(first) = answers.iter().find(|a| a.kind == AnswerKind::Resolution) {
        if first.accepted_lines == accepted && first.reason.as_deref() == Some(note) {
            return Ok(Resolved {
                answer: first.clone(),
                is_replay: true,
            });
        }
        return Err(SettlementError::AlreadyResolved(issued.id).into());
    }
    let note = domain::text::trimmed("note", note, 2000)
        .map_err(|e| SettlementError::ReasonInvalid(e.to_string()))?;
    if let Some(stray) = accepted
        .iter()
        .find(|line| !dispute.disputed_lines.contains(line))
    {
        return Err(SettlementError::LineNotDisputed(*stray).into());
    }
    let recorded = StatementAnswer {
        id: AnswerId(Uuid::now_v7()),
        statement_id: issued.id,
        kind: AnswerKind::Resolution,
        statement_sha256: issued.payload_sha256.to_vec(),
        disputed_lines: Vec::new(),
        accepted_lines: accepted.clone(),
        reason: Some(note),
        key_id: resolution.key_id,
        signed_request: resolution.signed_request,
        created_at: domain::time::stored(now),
    };
    if !storage::settlement::insert_answer(conn, &recorded).await? {
        return Err(SettlementError::AlreadyResolved(issued.id).into());
    }
    for line in &accepted {
        adjust(conn, issued.partner_id, recorded.id, *line, now).await?;
    }
    tracing::info!(
        accepted = accepted.len(),
        "statement {} resolved",
        issued.sequence
    );
    Ok(Resolved {
        answer: recorded,
        is_replay: false,
    })
}

/// Posts the adjustment that reverses one settled line's money (and moves its points
/// between the partner's account and the operator's adjustments account).
async fn adjust(
    conn: &mut Connection,
    partner_id: PartnerId,
    resolution_id: AnswerId,
    line: TransferId,
    now: DateTime<Utc>,
) -> Result<TransferId> {
    let original = storage::ledger::find_transfer(conn, line)
        .await?
        .ok_or(SettlementError::LineNotInStatement(line))?;
    let (_, money) = storage::settlement::settled_line(conn, line)
        .await?
        .ok_or(SettlementError::LineNotInStatement(line))?;
    let partner_accounts = [
        partner_account(partner_id, AccountKind::PartnerIssuance),
        partner_account(partner_id, AccountKind::PartnerRedemption),
    ];
    // The line moved points out of (debit) or into (credit) a partner account: undo that.
    let (debit, credit) = if partner_accounts.contains(&original.debit) {
        (ADJUSTMENTS_ACCOUNT, original.debit)
    } else {
        (original.credit, ADJUSTMENTS_ACCOUNT)
    };
    // Lock the two shared accounts in id order, as the ledger committer does.
    storage::ledger::lock_accounts(conn, &[debit, credit]).await?;
    let transfer = Transfer {
        partner_id: Some(partner_id),
        branch_id: original.branch_id,
        card_number: original.card_number.clone(),
        partner_reference: original.partner_reference.clone(),
        currency: original.currency,
        ..Transfer::new(
            NewTransfer {
                debit,
                credit,
                amount: original.amount,
                code: TransferCode::Adjustment,
                phase: Phase::Single,
            },
            now,
        )
    };
    postings::write(conn, &transfer, Points::ZERO)
        .await
        .map_err(|e| e.map_refusal(|e: LedgerError| SettlementError::Invalid(e.to_string())))?;
    storage::settlement::insert_adjustment(conn, transfer.id, resolution_id, line, -money).await?;
    Ok(transfer.id)
}
