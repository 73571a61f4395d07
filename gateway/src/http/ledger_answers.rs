//! The shapes shared by the ledger routes: transactions, balances, movements,
//! and the idempotent write that produces a movement.

use actix_web::HttpResponse;
use actix_web::web::Data;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use partners::protocol;

use super::answers::{answer_response, json_answer};
use super::error::{ApiError, invalid_request};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use std::sync::{Arc, Mutex};

use crate::domain::idempotency::{self, Answer, RecordedAnswer};
use crate::domain::ledger::batch::LedgerOp;
use crate::domain::ledger::{
    self, Balance, LedgerError, Movement, Teller, Transfer, TransferState,
};

/// The wire form of a balance.
pub fn balance_body(balance: Balance) -> protocol::Balance {
    protocol::Balance {
        posted: balance.posted,
        available: balance.available,
        held: balance.held,
        pending_earned: balance.pending_earned,
    }
}

/// The wire form of a transfer.
pub fn transaction_body(transfer: Transfer, state: TransferState) -> protocol::Transaction {
    let money = match (transfer.money_minor, transfer.currency) {
        (Some(amount_minor), Some(currency)) => Some(protocol::Money {
            amount_minor,
            currency,
        }),
        _ => None,
    };
    protocol::Transaction {
        id: transfer.id,
        kind: transfer.code.as_str().to_owned(),
        phase: transfer.phase.as_str().to_owned(),
        state: state.as_str().to_owned(),
        points: transfer.amount,
        card_last4: transfer
            .card_number
            .as_deref()
            .map(|n| n[n.len().saturating_sub(4)..].to_owned()),
        branch_id: transfer.branch_id,
        reference: transfer.partner_reference,
        money,
        pending_id: transfer.pending_id,
        reverses_id: transfer.reverses_id,
        timeout_at: transfer.timeout_at,
        created_at: transfer.created_at,
    }
}

/// The wire form of a movement.
pub fn movement_body(movement: &Movement) -> protocol::Movement {
    protocol::Movement {
        transaction: transaction_body(movement.transfer.clone(), movement.state),
        balance: balance_body(movement.balance),
    }
}

/// The teller for a verified partner request.
pub fn teller(request: &VerifiedPartner) -> Teller {
    let caller = request.caller();
    Teller {
        partner_id: caller.partner_id,
        idempotency_key: caller
            .idempotency_key
            .as_ref()
            .map(|k| k.as_str().to_owned()),
    }
}

/// Runs a ledger write under the request's idempotency key and answers with the movement.
pub async fn write_movement<W>(
    state: &Data<AppState>,
    request: &VerifiedPartner,
    status: u16,
    work: W,
) -> Result<HttpResponse, ApiError>
where
    W: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<Movement, LedgerError>>
        + Send
        + 'static,
{
    // The member whose points the work changed, to refresh the caches once it has committed.
    let changed = Arc::new(Mutex::new(None::<uuid::Uuid>));
    let changed_in_tx = changed.clone();
    let answer = idempotency::execute(
        &state.storage,
        state.idempotency,
        &request.idempotent_request()?,
        work,
        move |movement| {
            if let Ok(mut member) = changed_in_tx.lock() {
                *member = movement.transfer.member_id;
            }
            json_answer(status, &movement_body(movement))
        },
        |err| ApiError::from(err).recorded(),
    )
    .await?;
    let member = changed.lock().ok().and_then(|m| *m);
    if let (Answer::Fresh(_), Some(member_id)) = (&answer, member) {
        ledger::committed(&state.storage, member_id).await;
    }
    Ok(answer_response(answer))
}

/// The answer recorded for an earn or redemption the committer decided: 201 with the movement,
/// or the refusal's problem.
pub fn render_created(result: Result<&Movement, LedgerError>) -> RecordedAnswer {
    match result {
        Ok(movement) => json_answer(201, &movement_body(movement)),
        Err(err) => ApiError::from(err).recorded(),
    }
}

/// Hands a prepared earn or redemption (or the refusal met preparing it) to the ledger
/// committer under the request's idempotency key, and answers with what it decided.
pub async fn commit_operation(
    state: &Data<AppState>,
    request: &VerifiedPartner,
    op: Result<LedgerOp, LedgerError>,
) -> Result<HttpResponse, ApiError> {
    let answer = state
        .committer
        .submit(request.idempotent_request()?, op)
        .await?;
    Ok(answer_response(answer))
}

/// Checks a count of points: above zero.
pub fn positive(field: &str, value: i64) -> Result<i64, ApiError> {
    if value > 0 {
        Ok(value)
    } else {
        Err(invalid_request(format!("{field} must be above zero")))
    }
}

/// Checks a partner reference: 1 to 100 characters.
pub fn reference(value: String) -> Result<String, ApiError> {
    if (1..=100).contains(&value.chars().count()) {
        Ok(value)
    } else {
        Err(invalid_request("reference must be 1 to 100 characters"))
    }
}

/// Parses a card number as typed.
pub fn card_number(value: &str) -> Result<crate::domain::cards::CardNumber, ApiError> {
    crate::domain::cards::CardNumber::parse(value)
        .map_err(|e| LedgerError::CardNumberInvalid(e).into())
}
