//! The period close: issues each partner's statements for every period whose
//! cut-off (plus the grace) has passed, one period per transaction.
//!
//! A statement settles the partner's posted transfers that are older than its
//! cut-off and not yet settled. A transfer committed after its period closed
//! (its request was in flight at the cut-off) is therefore settled by the next
//! statement; a closed statement never changes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use partners::jwk::PrivateKey;
use partners::settlement::STATEMENT_TYPE;
use uuid::Uuid;

use super::statement::{self, BuiltStatement, StatementFacts};
use super::terms::Terms;
use super::{SettlementError, terms_at};
use crate::storage::Storage;
use crate::storage::settlement::{self as rows, StatementRow};

/// When periods close.
#[derive(Debug, Clone, Copy)]
pub struct CloseSettings {
    /// How long after a cut-off its period closes: requests in flight at the cut-off
    /// (and holds captured in that time are still settled in the period they were captured).
    pub grace: Duration,
    /// How far before a period's start the close looks for late transfers.
    pub late_window: Duration,
}

impl Default for CloseSettings {
    fn default() -> Self {
        Self {
            grace: Duration::minutes(10),
            late_window: Duration::days(7),
        }
    }
}

/// A statement the close issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClosedStatement {
    pub id: Uuid,
    pub partner_code: String,
    pub sequence: i32,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub lines: i64,
    pub net_minor: i64,
    pub currency: String,
}

/// The smallest UUIDv7 of the millisecond `at` falls in: transfer ids at or after `at` are not
/// below it, ids before it are.
pub fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

/// Closes every due period of every partner with terms, as of `now`.
pub async fn settle(
    storage: &Storage,
    key: &PrivateKey,
    settings: CloseSettings,
    now: DateTime<Utc>,
) -> Result<Vec<ClosedStatement>, SettlementError> {
    let partners = rows::settled_partners(&mut *storage.db().await?).await?;
    let mut closed = Vec::new();
    for (partner_id, code) in partners {
        while let Some(statement) =
            close_next(storage, key, settings, partner_id, &code, now).await?
        {
            tracing::info!(
                partner.code = %code,
                sequence = statement.sequence,
                lines = statement.lines,
                net_minor = statement.net_minor,
                "closed {} – {}",
                statement.period_start,
                statement.period_end
            );
            metrics::counter!("settlement_statements_issued_total").increment(1);
            closed.push(statement);
        }
    }
    Ok(closed)
}

/// The versions of a partner's terms, oldest first, and by id.
async fn versions(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
) -> Result<(Vec<Terms>, HashMap<Uuid, Terms>), SettlementError> {
    let versions: Vec<Terms> = rows::terms_of(conn, partner_id)
        .await?
        .into_iter()
        .map(Terms::from)
        .collect();
    let by_id = versions.iter().map(|t| (t.id, t.clone())).collect();
    Ok((versions, by_id))
}

/// Closes the partner's next period if it is due; `None` when none is.
#[tracing::instrument(skip_all, fields(partner.id = %partner_id, partner.code = %code))]
async fn close_next(
    storage: &Storage,
    key: &PrivateKey,
    settings: CloseSettings,
    partner_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<ClosedStatement>, SettlementError> {
    let mut conn = storage.db().await?;
    conn.transaction::<_, SettlementError, _>(async |conn| {
        rows::lock_partner_settlement(conn, partner_id).await?;
        let (versions, by_id) = versions(conn, partner_id).await?;
        let Some(first) = versions.first() else {
            return Ok(None);
        };
        let last = rows::last_statement(conn, partner_id).await?;
        let start = last.as_ref().map_or(first.effective_from, |s| s.period_end);
        let Some(terms) = terms_at(&versions, start) else {
            return Ok(None);
        };
        let mut end = terms.period.next_boundary(start, terms.time_zone);
        // A version replacing a future one may start inside this period: the period ends there.
        if let Some(next) = versions.iter().find(|t| t.effective_from > start) {
            end = end.min(next.effective_from);
        }
        if end + settings.grace > now {
            return Ok(None);
        }
        let from = (start - settings.late_window).max(first.effective_from);
        let sources =
            rows::unsettled_lines(conn, partner_id, first_id_at(from), first_id_at(end), end)
                .await?;
        let lines = statement::price_lines(sources, terms, &by_id)?;
        let facts = StatementFacts {
            id: Uuid::now_v7(),
            partner_id,
            partner_code: code,
            sequence: last.as_ref().map_or(1, |s| s.sequence + 1),
            period_start: start,
            period_end: end,
            closed_at: super::stored_time(now),
            terms,
            opening_minor: last.as_ref().map_or(0, |s| s.closing_minor),
            previous_sha256: last
                .as_ref()
                .and_then(|s| <[u8; 32]>::try_from(s.payload_sha256.as_slice()).ok()),
        };
        let built = statement::build(&facts, &lines);
        let row = StatementRow {
            id: facts.id,
            partner_id,
            sequence: facts.sequence,
            period_start: start,
            period_end: end,
            terms_id: terms.id,
            closed_at: facts.closed_at,
            net_minor: built.statement.net_minor,
            closing_minor: built.statement.closing_position_minor,
            jws: partners::jws::sign(&built.payload, key, STATEMENT_TYPE),
            payload: built.payload,
            payload_sha256: built.payload_sha256.to_vec(),
            previous_sha256: facts.previous_sha256.map(|h| h.to_vec()),
            lines_sha256: built.lines_sha256.to_vec(),
        };
        let settled: Vec<(Uuid, i64)> = lines
            .iter()
            .map(|l| (l.source.transfer_id, l.money_minor))
            .collect();
        rows::insert_statement(conn, &row, &settled).await?;
        Ok(Some(ClosedStatement {
            id: row.id,
            partner_code: code.to_owned(),
            sequence: row.sequence,
            period_start: start,
            period_end: end,
            lines: built.statement.lines.count,
            net_minor: row.net_minor,
            currency: terms.currency.clone(),
        }))
    })
    .await
}

/// Rebuilds a stored statement from the ledger: the same payload bytes and lines file
/// unless something changed that must never change.
pub async fn regenerate(
    conn: &mut AsyncPgConnection,
    row: &StatementRow,
    partner_code: &str,
) -> Result<BuiltStatement, SettlementError> {
    let (versions, by_id) = versions(conn, row.partner_id).await?;
    let terms = versions
        .iter()
        .find(|t| t.id == row.terms_id)
        .ok_or(SettlementError::StatementNotFound(row.id))?;
    let previous = match row.sequence {
        1 => None,
        n => rows::statement_by_sequence(conn, row.partner_id, n - 1).await?,
    };
    let sources = rows::statement_lines(conn, row.id)
        .await?
        .into_iter()
        .map(|(line, _)| line)
        .collect();
    let lines = statement::price_lines(sources, terms, &by_id)?;
    let facts = StatementFacts {
        id: row.id,
        partner_id: row.partner_id,
        partner_code,
        sequence: row.sequence,
        period_start: row.period_start,
        period_end: row.period_end,
        closed_at: row.closed_at,
        terms,
        opening_minor: previous.as_ref().map_or(0, |s| s.closing_minor),
        previous_sha256: previous
            .as_ref()
            .and_then(|s| <[u8; 32]>::try_from(s.payload_sha256.as_slice()).ok()),
    };
    Ok(statement::build(&facts, &lines))
}

/// A stored statement's lines file, rebuilt from the ledger (the lines' money as settled).
pub async fn lines_file(
    conn: &mut AsyncPgConnection,
    row: &StatementRow,
) -> Result<Vec<u8>, SettlementError> {
    let lines: Vec<statement::Line> = rows::statement_lines(conn, row.id)
        .await?
        .into_iter()
        .filter_map(|(source, money_minor)| {
            super::money::LineType::from_code(&source.code).map(|line_type| statement::Line {
                source,
                line_type,
                money_minor,
            })
        })
        .collect();
    Ok(statement::lines_csv(&lines))
}
