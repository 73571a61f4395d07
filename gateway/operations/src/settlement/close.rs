//! The period close: issues each partner's statements for every period whose
//! cut-off (plus the grace) has passed, one period per transaction.
//!
//! A statement settles the partner's posted transfers that are older than its
//! cut-off and not yet settled. A transfer committed after its period closed
//! (its request was in flight at the cut-off) is therefore settled by the next
//! statement; a closed statement never changes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::{PartnerId, StatementId, TermsId, TransferId};
use domain::settlement::statement::{self, BuiltStatement, Line, StatementFacts};
use domain::settlement::terms::{Terms, terms_at};
use domain::settlement::{IssuedStatement, SettlementError, money::LineType};
use partners::jwk::PrivateKey;
use partners::settlement::STATEMENT_TYPE;
use storage::{Connection, Storage};
use uuid::Uuid;

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<SettlementError>>;

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
    /// Its id.
    pub id: StatementId,
    /// The partner's code.
    pub partner_code: String,
    /// Its sequence number.
    pub sequence: i32,
    /// The period's start.
    pub period_start: DateTime<Utc>,
    /// The period's end.
    pub period_end: DateTime<Utc>,
    /// How many lines it settles.
    pub lines: i64,
    /// Its net money.
    pub net_minor: i64,
    /// The currency.
    pub currency: String,
}

/// What a close run did: the statements it issued, and the partners whose next period cannot be
/// closed (their later periods wait behind it).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Settled {
    /// The statements issued, partner by partner, oldest period first.
    pub closed: Vec<ClosedStatement>,
    /// The partners whose next statement cannot be built.
    pub stuck: Vec<StuckPartner>,
}

/// A partner whose next period cannot be closed, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StuckPartner {
    /// The partner's code.
    pub partner_code: String,
    /// The refusal's stable code (docs/errors.md), e.g. `statement_totals_overflow`.
    pub code: &'static str,
    /// What is wrong.
    pub detail: String,
}

/// Closes every due period of every partner with terms, as of `now`. A partner whose statement
/// cannot be built (its figures overflow) is reported and passed over; the others close.
/// A storage failure ends the run (it is tried again on the next).
pub async fn settle(
    storage: &Storage,
    key: &PrivateKey,
    settings: CloseSettings,
    now: DateTime<Utc>,
) -> Result<Settled> {
    let partners = storage::settlement::settled_partners(&mut *storage.db().await?).await?;
    let mut settled = Settled::default();
    for (partner_id, code) in partners {
        loop {
            match close_next(storage, key, settings, partner_id, &code, now).await {
                Ok(Some(statement)) => {
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
                    settled.closed.push(statement);
                }
                Ok(None) => break,
                Err(OperationError::Refused(refused)) => {
                    tracing::error!(partner.code = %code, error = %refused, "the partner's next period cannot be closed");
                    metrics::counter!("settlement_periods_stuck_total").increment(1);
                    settled.stuck.push(StuckPartner {
                        partner_code: code.clone(),
                        code: refused.code(),
                        detail: refused.to_string(),
                    });
                    break;
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(settled)
}

/// The versions of a partner's terms, oldest first, and by id.
async fn versions(
    conn: &mut Connection,
    partner_id: PartnerId,
) -> Result<(Vec<Terms>, HashMap<TermsId, Terms>)> {
    let versions = storage::settlement::terms_of(conn, partner_id).await?;
    let by_id = versions.iter().map(|t| (t.id, t.clone())).collect();
    Ok((versions, by_id))
}

/// Closes the partner's next period if it is due; `None` when none is.
#[tracing::instrument(skip_all, fields(partner.id = %partner_id, partner.code = %code))]
async fn close_next(
    storage: &Storage,
    key: &PrivateKey,
    settings: CloseSettings,
    partner_id: PartnerId,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<ClosedStatement>> {
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<SettlementError>, _>(async |conn| {
        storage::settlement::lock_partner_settlement(conn, partner_id).await?;
        let (versions, by_id) = versions(conn, partner_id).await?;
        let Some(first) = versions.first() else {
            return Ok(None);
        };
        let last = storage::settlement::last_statement(conn, partner_id).await?;
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
        let sources = storage::settlement::unsettled_lines(
            conn,
            partner_id,
            TransferId::first_at(from),
            TransferId::first_at(end),
            end,
        )
        .await?;
        let lines = statement::price_lines(sources, terms, &by_id)?;
        let facts = StatementFacts {
            id: StatementId(Uuid::now_v7()),
            partner_id,
            partner_code: code,
            sequence: last.as_ref().map_or(1, |s| s.sequence + 1),
            period_start: start,
            period_end: end,
            closed_at: domain::time::stored(now),
            terms,
            opening_minor: last.as_ref().map_or(0, |s| s.closing_minor),
            previous_sha256: last.as_ref().map(|s| s.payload_sha256),
        };
        let built = statement::build(&facts, &lines)?;
        let issued = IssuedStatement {
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
            payload_sha256: built.payload_sha256,
            previous_sha256: facts.previous_sha256,
            lines_sha256: built.lines_sha256,
        };
        let settled: Vec<(TransferId, i64)> = lines
            .iter()
            .map(|l| (l.source.transfer_id, l.money_minor))
            .collect();
        storage::settlement::insert_statement(conn, &issued, &settled).await?;
        Ok(Some(ClosedStatement {
            id: issued.id,
            partner_code: code.to_owned(),
            sequence: issued.sequence,
            period_start: start,
            period_end: end,
            lines: built.statement.lines.count,
            net_minor: issued.net_minor,
            currency: terms.currency.to_string(),
        }))
    })
    .await
}

/// Rebuilds a stored statement from the ledger: the same payload bytes and lines file
/// unless something changed that must never change.
pub(crate) async fn regenerate(
    conn: &mut Connection,
    issued: &IssuedStatement,
    partner_code: &str,
) -> Result<BuiltStatement> {
    let (versions, by_id) = versions(conn, issued.partner_id).await?;
    let terms = versions
        .iter()
        .find(|t| t.id == issued.terms_id)
        .ok_or(SettlementError::StatementNotFound(issued.id))?;
    let previous = match issued.sequence {
        1 => None,
        n => storage::settlement::statement_by_sequence(conn, issued.partner_id, n - 1).await?,
    };
    let sources = storage::settlement::statement_lines(conn, issued.id)
        .await?
        .into_iter()
        .map(|(line, _)| line)
        .collect();
    let lines = statement::price_lines(sources, terms, &by_id)?;
    let facts = StatementFacts {
        id: issued.id,
        partner_id: issued.partner_id,
        partner_code,
        sequence: issued.sequence,
        period_start: issued.period_start,
        period_end: issued.period_end,
        closed_at: issued.closed_at,
        terms,
        opening_minor: previous.as_ref().map_or(0, |s| s.closing_minor),
        previous_sha256: previous.as_ref().map(|s| s.payload_sha256),
    };
    Ok(statement::build(&facts, &lines)?)
}

/// A stored statement's lines file, rebuilt from the ledger (the lines' money as settled).
pub(crate) async fn lines_file(conn: &mut Connection, issued: &IssuedStatement) -> Result<Vec<u8>> {
    let lines: Vec<Line> = storage::settlement::statement_lines(conn, issued.id)
        .await?
        .into_iter()
        .filter_map(|(source, money_minor)| {
            LineType::from_code(source.code).map(|line_type| Line {
                source,
                line_type,
                money_minor,
            })
        })
        .collect();
    Ok(statement::lines_csv(&lines))
}
