//! `/v1/transactions`: the partner's own transactions, paginated.

use actix_web::web::{Data, Query};
use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use partners::protocol::{self, Problem};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::error::{ApiError, invalid_request};
use super::ledger_answers::transaction_body;
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::ledger::{self, HistoryQuery, TransferCode};

/// Which transactions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransactionsQuery {
    /// Created at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Comma-separated types: earn, redeem, earn_reversal, redeem_reversal.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// Lists the calling partner's transactions, newest first.
#[utoipa::path(tag = "ledger", params(TransactionsQuery), responses(
    (status = 200, description = "One page", body = protocol::TransactionPage),
    (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/transactions")]
pub async fn list(
    state: Data<AppState>,
    request: VerifiedPartner,
    query: Query<TransactionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(invalid_request("limit must be 1 to 500"));
    }
    let codes = match &query.kind {
        None => Vec::new(),
        Some(kinds) => kinds
            .split(',')
            .map(|k| {
                TransferCode::parse(k.trim())
                    .ok_or_else(|| invalid_request(format!("unknown type {k:?}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let history = HistoryQuery {
        from: query.from,
        to: query.to,
        codes,
        before: query.cursor,
        limit,
    };
    let (page, next_cursor) =
        ledger::transactions(&state.storage, request.caller().partner_id, &history).await?;
    Ok(HttpResponse::Ok().json(protocol::TransactionPage {
        transactions: page
            .into_iter()
            .map(|(t, s)| transaction_body(t, s))
            .collect(),
        next_cursor,
    }))
}
