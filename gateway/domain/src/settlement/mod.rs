//! Settlement money and documents (see `docs/settlement.md`): terms and their
//! periods, the money of statement lines, the statement itself, and the
//! reconciliation of a partner's file against the ledger. Pure: the close, the
//! answers and the uploads that use these live in the operations.

pub mod money;
pub mod reconcile;
pub mod statement;
pub mod terms;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AnswerId, PartnerId, StatementId, TermsId, TransferId};

/// A statement as issued: signed, stored, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedStatement {
    /// Its id.
    pub id: StatementId,
    /// The partner it settles.
    pub partner_id: PartnerId,
    /// Its gap-free sequence number per partner.
    pub sequence: i32,
    /// The period's start.
    pub period_start: DateTime<Utc>,
    /// The period's end (the cut-off).
    pub period_end: DateTime<Utc>,
    /// The terms it settles under.
    pub terms_id: TermsId,
    /// When it was closed.
    pub closed_at: DateTime<Utc>,
    /// Its net money (positive: the partner pays).
    pub net_minor: i64,
    /// The position after it.
    pub closing_minor: i64,
    /// The signed JSON payload.
    pub payload: Vec<u8>,
    /// The payload's SHA-256.
    pub payload_sha256: [u8; 32],
    /// The previous statement's payload SHA-256 (the chain).
    pub previous_sha256: Option<[u8; 32]>,
    /// The lines file's SHA-256.
    pub lines_sha256: [u8; 32],
    /// The compact JWS over the payload.
    pub jws: String,
}

/// An answer to a statement: the partner's acknowledgement or dispute, or the operator's
/// resolution, kept with the signed request that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementAnswer {
    /// Its id.
    pub id: AnswerId,
    /// The statement answered.
    pub statement_id: StatementId,
    /// What it is.
    pub kind: AnswerKind,
    /// The statement hash it answers.
    pub statement_sha256: Vec<u8>,
    /// The lines disputed (a dispute).
    pub disputed_lines: Vec<TransferId>,
    /// The disputed lines accepted (a resolution).
    pub accepted_lines: Vec<TransferId>,
    /// The dispute's reason or the resolution's note.
    pub reason: Option<String>,
    /// The key that signed the request.
    pub key_id: String,
    /// The request as signed.
    pub signed_request: serde_json::Value,
    /// When (stored precision).
    pub created_at: DateTime<Utc>,
}

/// What an answer to a statement is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AnswerKind {
    /// The partner agrees with the statement.
    Acknowledgement,
    /// The partner disputes named lines.
    Dispute,
    /// The operator resolved a dispute.
    Resolution,
}

impl AnswerKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a statement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum StatementStatus {
    /// Issued, not answered.
    Issued,
    /// The partner acknowledged it.
    Acknowledged,
    /// The partner disputed lines of it.
    Disputed,
    /// The operator resolved the dispute.
    Resolved,
}

impl StatementStatus {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The status after answers of these kinds (of one statement).
    pub fn of(answers: impl IntoIterator<Item = AnswerKind>) -> Self {
        answers
            .into_iter()
            .fold(Self::Issued, |status, kind| match kind {
                AnswerKind::Resolution => Self::Resolved,
                AnswerKind::Dispute if status != Self::Resolved => Self::Disputed,
                AnswerKind::Dispute => status,
                AnswerKind::Acknowledgement => Self::Acknowledged,
            })
    }
}

/// Why a statement could not be read, answered or resolved.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, strum::EnumIter,
)]
pub enum SettlementError {
    /// No statement with this id (for a partner: none of its own).
    #[error("no statement {0}")]
    StatementNotFound(StatementId),
    /// The answer names another hash than the statement's.
    #[error(
        "the statement's SHA-256 is {actual}; the request names {named}: fetch the statement again"
    )]
    HashMismatch {
        /// The hash the request named.
        named: String,
        /// The statement's hash.
        actual: String,
    },
    /// The partner answered the statement already.
    #[error("statement {0} was already acknowledged or disputed")]
    AlreadyAnswered(StatementId),
    /// A resolution for a statement nobody disputed.
    #[error("statement {0} is not disputed")]
    NotDisputed(StatementId),
    /// The dispute was resolved already (differently).
    #[error("statement {0} was already resolved")]
    AlreadyResolved(StatementId),
    /// A disputed line the statement does not settle.
    #[error("transfer {0} is not a line of this statement")]
    LineNotInStatement(TransferId),
    /// An accepted line the partner did not dispute.
    #[error("line {0} was not disputed")]
    LineNotDisputed(TransferId),
    /// A field is out of range; the text says which.
    #[error("{0}")]
    Invalid(String),
    /// A dispute's reason or a resolution's note is missing, too long or not plain text.
    #[error("{0}")]
    ReasonInvalid(String),
    /// A line's money does not fit in 64 bits (points times a rate the terms allow).
    #[error("{0}")]
    Money(money::MoneyOverflow),
    /// A period's totals do not fit the statement's 64-bit figures.
    #[error("the period's totals do not fit in 64-bit minor units")]
    TotalsOverflow,
    /// A stored statement cannot be read.
    #[error("statement {0} cannot be read: {1}")]
    Corrupt(StatementId, String),
}

impl SettlementError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::StatementNotFound(_) => "statement_not_found",
            Self::HashMismatch { .. } => "statement_hash_mismatch",
            Self::AlreadyAnswered(_) => "statement_already_answered",
            Self::NotDisputed(_) => "statement_not_disputed",
            Self::AlreadyResolved(_) => "statement_already_resolved",
            Self::LineNotInStatement(_) => "line_not_in_statement",
            Self::LineNotDisputed(_) => "line_not_disputed",
            Self::Invalid(_) => "invalid_request",
            Self::ReasonInvalid(_) => "reason_invalid",
            Self::Money(_) => "line_money_overflow",
            Self::TotalsOverflow => "statement_totals_overflow",
            Self::Corrupt(..) => "internal_error",
        }
    }
}

impl From<money::MoneyOverflow> for SettlementError {
    fn from(err: money::MoneyOverflow) -> Self {
        Self::Money(err)
    }
}
