//! Partner events (`POST /v1/events`): a review, a survey, … that bonus rules reward, each once
//! per partner, event type and reference, in a transaction of its own under the request's
//! idempotency key (events are few; they need not share the committer's batches).

use chrono::{DateTime, Utc};
use domain::ids::PartnerId;
use domain::ledger::books::LedgerOp;
use domain::ledger::{Balance, Event, LedgerError};
use domain::program::ProgramSettings;
use domain::program::bonuses;
use domain::program::rules::Occasion;
use serde::{Deserialize, Serialize};
use storage::Connection;

use crate::Club;
use crate::bonuses as bonus_ops;
use crate::error::OperationError;
use crate::idempotency::{self, Answer, Answered, IdempotencyError, Scope};
use crate::ledger::{at, prepare};
use crate::program::Programme;

/// A bonus an event earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awarded {
    /// The bonus rule's code.
    pub bonus: String,
    /// Points it gave the member (all funders' parts).
    pub points: i64,
}

/// What an event earned, and the member's points after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventOutcome {
    /// The bonuses awarded.
    pub awarded: Vec<Awarded>,
    /// The member's points.
    pub balance: Balance,
    /// Members whose points moved; not recorded with the answer.
    #[serde(skip)]
    moved: Vec<domain::ids::MemberId>,
}

/// Records a partner's event and awards the bonuses its type earns.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id, event.kind = %event.event_type))]
pub async fn record(
    club: &Club,
    scope: &Scope,
    event: Event,
) -> Result<Answered<EventOutcome, LedgerError>, IdempotencyError> {
    let programme = Programme::of(club).await?;
    let (settings, partner_id) = (club.program.clone(), scope.partner_id);
    let answered = idempotency::execute(&club.storage, club.idempotency, scope, move |conn| {
        Box::pin(async move {
            let now = domain::time::now();
            award(conn, &settings, &programme, partner_id, event, now).await
        })
    })
    .await?;
    if let Answer::Done(outcome) = &answered.answer {
        storage::card_cache::bump_many(&club.storage, &outcome.moved).await;
    }
    Ok(answered)
}

async fn award(
    conn: &mut Connection,
    settings: &ProgramSettings,
    programme: &Programme,
    partner_id: PartnerId,
    event: Event,
    now: DateTime<Utc>,
) -> Result<EventOutcome, OperationError<LedgerError>> {
    let occurred_at = settings.occurred_at(event.occurred_at, now)?;
    let (rules, places) = (&programme.rules[..], &*programme.places);
    let member_id = prepare::usable_card(conn, &event.card).await?.member_id;
    let found: Vec<_> = bonuses::in_force(rules, occurred_at, Occasion::Event)
        .into_iter()
        .filter(|b| b.rule.event_type.as_deref() == Some(event.event_type.as_str()))
        .collect();
    if found.is_empty() {
        return Err(LedgerError::EventTypeUnknown(event.event_type).into());
    }
    let key = format!(
        "event:{partner_id}:{}:{}",
        event.event_type, event.reference
    );
    let ops = bonus_ops::priced(places, &found, member_id, &key)?;
    let ops: Vec<&LedgerOp> = ops.iter().collect();
    let (results, moved) = at::apply_batch(conn, settings, rules, &ops, now).await?;
    let mut awarded = Vec::new();
    let mut balance = None;
    for (bonus, result) in found.iter().zip(results) {
        let movement = result?;
        awarded.push(Awarded {
            bonus: bonus.code.to_owned(),
            points: bonus.rule.points,
        });
        balance = Some(movement.balance);
    }
    tracing::info!(member.id = %member_id, awards = awarded.len(), "event rewarded");
    Ok(EventOutcome {
        awarded,
        balance: balance.unwrap_or_default(),
        moved,
    })
}
