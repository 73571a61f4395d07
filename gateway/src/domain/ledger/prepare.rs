//! Turning a partner's earn or redemption into a [`LedgerOp`]: the branch and its
//! rule, the price in points or money, the card and its member, every check that
//! needs no lock. Request handlers do this in parallel, before the committer; a
//! transaction (the demo loader, tests) does it on its own connection.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::batch::{EarnOp, LedgerOp, RedeemOp, Till};
use super::{EarnRequest, LedgerError, ProgramSettings, RedeemRequest, Teller, postings};
use crate::domain::cards::CardNumber;
use crate::domain::rules::{self, PointRule};
use crate::storage::Storage;

/// Where branches, rules and cards are read from.
pub enum Lookups<'a> {
    /// The caches in front of the pool (request handlers).
    Cached(&'a Storage),
    /// A connection, usually inside the caller's transaction.
    Conn(&'a mut AsyncPgConnection),
}

impl Lookups<'_> {
    async fn branch_rule(
        &mut self,
        teller: &Teller,
        branch: &str,
    ) -> Result<(Uuid, PointRule), LedgerError> {
        let (branch_id, rule) = match self {
            Self::Cached(storage) => {
                let (id, rule) =
                    rules::branch_rule_cached(storage, teller.partner_id, branch).await?;
                (id.0, rule)
            }
            Self::Conn(conn) => {
                let branch = postings::branch_of(conn, teller.partner_id, branch).await?;
                (
                    branch.id.0,
                    rules::for_branch(conn, teller.partner_id, branch.id).await?,
                )
            }
        };
        Ok((branch_id, rule.ok_or(LedgerError::RuleMissing)?))
    }

    /// The member of a card that may be used at the till.
    async fn card_member(&mut self, card: &CardNumber) -> Result<Uuid, LedgerError> {
        let (_, member) = match self {
            Self::Cached(storage) => {
                // Which member a card belongs to never changes; whether it may be used is
                // checked again in the batch's transaction.
                let members = &storage.card_cache().members;
                if let Some(member_id) = members.get(card.as_str()).await {
                    return Ok(member_id);
                }
                let found = postings::usable_card(&mut *storage.db().await?, card).await?;
                members.insert(card.as_str().to_owned(), found.1.id).await;
                found
            }
            Self::Conn(conn) => postings::usable_card(conn, card).await?,
        };
        Ok(member.id)
    }
}

fn till(
    teller: &Teller,
    branch_id: Uuid,
    member_id: Uuid,
    card: &CardNumber,
    reference: String,
) -> Till {
    Till {
        partner_id: teller.partner_id,
        branch_id,
        member_id,
        card_number: card.as_str().to_owned(),
        reference,
        idempotency_key: teller.idempotency_key.clone(),
    }
}

/// Checks and prices an earn.
pub async fn earn_op(
    lookups: &mut Lookups<'_>,
    settings: &ProgramSettings,
    teller: &Teller,
    request: EarnRequest,
    now: DateTime<Utc>,
) -> Result<LedgerOp, LedgerError> {
    let (branch_id, rule) = lookups.branch_rule(teller, &request.branch).await?;
    if rule.currency != request.currency {
        return Err(LedgerError::CurrencyMismatch {
            expected: rule.currency,
        });
    }
    let points = rule
        .points_for(request.amount_minor)
        .ok_or(LedgerError::AmountTooLarge)?;
    if points == 0 {
        return Err(LedgerError::PurchaseTooSmall);
    }
    if let Some(release_at) = request.release_at
        && (release_at <= now || release_at > now + settings.max_release)
    {
        return Err(LedgerError::ReleaseAtInvalid {
            max_days: settings.max_release.num_days(),
        });
    }
    let member_id = lookups.card_member(&request.card).await?;
    Ok(LedgerOp::Earn(EarnOp {
        till: till(
            teller,
            branch_id,
            member_id,
            &request.card,
            request.reference,
        ),
        points,
        amount_minor: request.amount_minor,
        currency: rule.currency,
        release_at: request.release_at,
    }))
}

/// Checks and prices a redemption (or a hold).
pub async fn redeem_op(
    lookups: &mut Lookups<'_>,
    settings: &ProgramSettings,
    teller: &Teller,
    request: RedeemRequest,
) -> Result<LedgerOp, LedgerError> {
    let hold = match request.hold {
        None => None,
        Some(hold) => {
            let hold = hold.unwrap_or(settings.default_hold);
            let invalid = || LedgerError::HoldTimeoutInvalid {
                max_secs: settings.max_hold.as_secs(),
            };
            if hold.is_zero() || hold > settings.max_hold {
                return Err(invalid());
            }
            Some(chrono::Duration::from_std(hold).map_err(|_| invalid())?)
        }
    };
    let (branch_id, rule) = lookups.branch_rule(teller, &request.branch).await?;
    let discount_minor = rule
        .value_of(request.points)
        .ok_or(LedgerError::AmountTooLarge)?;
    let member_id = lookups.card_member(&request.card).await?;
    Ok(LedgerOp::Redeem(RedeemOp {
        till: till(
            teller,
            branch_id,
            member_id,
            &request.card,
            request.reference,
        ),
        points: request.points,
        discount_minor,
        currency: rule.currency,
        hold,
    }))
}
