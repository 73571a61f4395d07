//! Earning points: a purchase at a partner's branch credits the member and debits
//! the partner's issuance account. An earn may be pending until a release time
//! (a hotel stay, a return period): then it is posted (by the partner, or by
//! maintenance at the release time) or voided ([`super::follow_up`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::ledger::{LedgerError, Purchase, Transfer, lots};
use domain::program::ProgramSettings;
use domain::program::tiers::{self, Tally};
use storage::Connection;

use super::committer::Reply;
use super::postings;
use super::prepare::{self, Lookups};
use crate::Club;
use crate::error::OperationError;
use crate::idempotency::IdempotencyError;
use crate::idempotency::Scope;
use crate::program::PurchaseRules;

type Result<T> = std::result::Result<T, OperationError<LedgerError>>;

/// Records the earn for a purchase, through the ledger committer.
#[tracing::instrument(skip_all, fields(partner.id = %scope.partner_id))]
pub async fn earn(club: &Club, scope: Scope, purchase: Purchase) -> Reply {
    let purchase_rules = match PurchaseRules::of(club).await {
        Ok(rules) => rules,
        Err(e) => return Err(IdempotencyError::Storage(e)),
    };
    let op = prepare::price_earn(
        &mut Lookups::Cached(&club.storage),
        &club.program,
        &purchase_rules,
        scope.partner_id,
        Some(scope.key.as_str()),
        purchase,
        domain::time::now(),
    )
    .await;
    super::submit(club, scope, op).await
}

/// Posts a pending earn whose release time has come (maintenance), on the caller's transaction.
pub(crate) async fn release_due(
    conn: &mut Connection,
    settings: &ProgramSettings,
    pending: &Transfer,
    now: DateTime<Utc>,
) -> Result<()> {
    let post = postings::resolve(
        conn,
        pending,
        Some((pending.amount, pending.money_minor)),
        None,
        now,
    )
    .await?;
    storage::ledger::insert_lot(conn, &lots::lot_of(settings, &post, now)).await?;
    // The purchase counts toward tiers on the day it is released, as a partner's release does.
    if let (Some(member_id), Some(tally)) = (post.member_id, Tally::of(&post)) {
        let day = tiers::local_day(post.created_at, settings.time_zone);
        storage::activity::add_days(conn, &BTreeMap::from([((member_id, day), tally)])).await?;
    }
    Ok(())
}
