//! `/v1/transactions`: the partner's own transactions, paginated.

use actix_web::web::{Data, Query};
use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use partners::protocol::{self, Problem};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use domain::ids::TransferId;
use domain::ledger::TransferCode;
use operations::ledger::history::{self, HistoryQuery};

use super::error::{ApiError, invalid_request};
use super::render;
use super::verified::VerifiedPartner;
use crate::state::AppState;

/// Which transactions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransactionsQuery {
    /// Created at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Comma-separated types: earn, redeem, earn_reversal, redeem_reversal.
    #[serde(rename = "type")]
    #[param(
        pattern = r"^ *(earn|redeem|earn_reversal|redeem_reversal|expiry|bonus|adjustment) *(, *(earn|redeem|earn_reversal|redeem_reversal|expiry|bonus|adjustment) *)*$"
    )]
    pub kind: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// Lists the calling partner's transactions, newest first.
#[utoipa::path(tag = "ledger", operation_id = "listTransactions", params(TransactionsQuery), responses(
    (status = 200, description = "One page", body = protocol::TransactionPage),
    (status = 422, description = "Invalid filter, limit or cursor, or an unknown query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/transactions")]
pub(crate) async fn list(
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
                k.trim()
                    .parse::<TransferCode>()
                    .map_err(|_| invalid_request(format!("unknown type {k:?}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let wanted = HistoryQuery {
        from: query.from,
        to: query.to,
        codes,
        before: query.cursor.map(TransferId),
        limit,
    };
    let page =
        history::transactions(&state.club.storage, request.caller().partner_id, &wanted).await?;
    Ok(HttpResponse::Ok().json(protocol::TransactionPage {
        transactions: page
            .transactions
            .into_iter()
            .map(|(t, s)| render::transaction(t, s))
            .collect(),
        next_cursor: page.next.map(|n| n.0),
    }))
}
