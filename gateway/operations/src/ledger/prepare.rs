//! Pricing an earn or a redemption at its point of sale, before the books: the
//! branch and its rule, the price in points or money, the card and its member,
//! every check that needs no lock; and for a step on a transfer made before, what
//! that transfer is (which never changes). Requests do this in parallel, before
//! the committer; an operation at a chosen time does it on its own connection.

use chrono::{DateTime, Utc};
use domain::cards::CardNumber;
use domain::ids::{BranchId, MemberId, PartnerId, TransferId};
use domain::ledger::books::{FollowUp, LedgerOp, PointOfSale, PricedEarn, PricedRedemption, Step};
use domain::ledger::{LedgerError, Phase, Purchase, Redemption, Transfer};
use domain::pricing::{PointRule, PricingError};
use domain::program::campaigns::FirstPurchaseOffer;
use domain::program::earning;
use domain::program::{Limits, ProgramSettings};
use storage::{Connection, Storage};

use crate::error::OperationError;
use crate::pricing;
use crate::program::PurchaseRules;

/// Where branches, rules and cards are read from.
pub(crate) enum Lookups<'a> {
    /// The caches in front of the pool (requests).
    Cached(&'a Storage),
    /// A connection, usually inside the caller's transaction.
    Conn(&'a mut Connection),
}

impl Lookups<'_> {
    /// The branch named, its rule (refused if it has none) and the limits that apply there.
    async fn branch_rule(
        &mut self,
        settings: &ProgramSettings,
        partner_id: PartnerId,
        branch: &str,
    ) -> Result<(BranchId, PointRule, Limits), OperationError<LedgerError>> {
        let found = match self {
            Self::Cached(storage) => pricing::branch_rule_cached(storage, partner_id, branch)
                .await
                .map_err(|e| e.map_refusal(LedgerError::from))?,
            Self::Conn(conn) => {
                pricing::branch_pricing::<LedgerError>(conn, partner_id, branch).await?
            }
        };
        let rule = found.rule.ok_or(PricingError::RuleMissing)?;
        Ok((found.branch_id, rule, found.limits.over(settings.limits)))
    }

    /// The member of a card that may be used at the till, and who referred them.
    async fn card_holder(
        &mut self,
        card: &CardNumber,
    ) -> Result<CardHolder, OperationError<LedgerError>> {
        match self {
            Self::Cached(storage) => {
                // Which member a card belongs to, and who referred them, never change; whether
                // the card may be used is checked again in the batch's transaction.
                let holders = &storage.card_cache().members;
                if let Some((member_id, referred_by)) = holders.get(card.as_str()).await {
                    return Ok(CardHolder {
                        member_id,
                        referred_by,
                    });
                }
                let holder = usable_card(&mut *storage.db().await?, card).await?;
                let cached = (holder.member_id, holder.referred_by);
                holders.insert(card.as_str().to_owned(), cached).await;
                Ok(holder)
            }
            Self::Conn(conn) => usable_card(conn, card).await,
        }
    }

    /// Whom `member_id`'s first purchase rewards, while they have made none: their referrer.
    async fn referrer_before_first_purchase(
        &mut self,
        member_id: MemberId,
    ) -> Result<Option<MemberId>, OperationError<LedgerError>> {
        Ok(match self {
            Self::Cached(storage) => {
                let settled = &storage.card_cache().no_referral_due;
                if settled.contains_key(&member_id) {
                    return Ok(None);
                }
                let conn = storage.db().await?;
                let referrer =
                    storage::members::referrer_before_first_purchase(&conn, member_id).await?;
                if referrer.is_none() {
                    settled.insert(member_id, ()).await;
                }
                referrer
            }
            Self::Conn(conn) => {
                storage::members::referrer_before_first_purchase(conn, member_id).await?
            }
        })
    }

    /// The transfer `id`, if there is one.
    async fn transfer(
        &mut self,
        id: TransferId,
    ) -> Result<Option<Transfer>, OperationError<LedgerError>> {
        Ok(match self {
            Self::Cached(storage) => {
                storage::ledger::find_transfer(&mut *storage.db().await?, id).await?
            }
            Self::Conn(conn) => storage::ledger::find_transfer(conn, id).await?,
        })
    }
}

/// A card's member, and who referred them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CardHolder {
    pub(crate) member_id: MemberId,
    pub(crate) referred_by: Option<MemberId>,
}

/// The member of a card that may be used at the till.
pub(crate) async fn usable_card(
    conn: &mut Connection,
    card: &CardNumber,
) -> Result<CardHolder, OperationError<LedgerError>> {
    let (card, member) = storage::members::find_card(conn, card)
        .await?
        .ok_or(domain::cards::CardError::Unknown)?;
    domain::cards::usable(card.status, member.status)?;
    Ok(CardHolder {
        member_id: member.id,
        referred_by: member.referred_by,
    })
}

/// Checks and prices an earn under the earn rules, with the campaigns and repeat-visit bonuses it
/// qualifies for by place and time.
pub(crate) async fn price_earn(
    lookups: &mut Lookups<'_>,
    settings: &ProgramSettings,
    rules: &PurchaseRules,
    partner_id: PartnerId,
    idempotency_key: Option<&str>,
    purchase: Purchase,
    now: DateTime<Utc>,
) -> Result<LedgerOp, OperationError<LedgerError>> {
    let (branch_id, rule, limits) = lookups
        .branch_rule(settings, partner_id, &purchase.branch)
        .await?;
    limits.check_purchase(purchase.amount.amount_minor)?;
    // A late earn is priced by the rules in force when it happened.
    let at = settings.occurred_at(purchase.occurred_at, now)?;
    let rules = rules.at(at);
    if !purchase.lines.is_empty()
        && let Some(category) =
            rules.unknown_category(purchase.lines.iter().map(|l| l.category.as_str()))
    {
        return Err(LedgerError::CategoryUnknown(category.to_owned()).into());
    }
    rule.check_currency(purchase.amount)?;
    let earning = earning::earn(
        &rule,
        purchase.amount.amount_minor,
        &purchase.lines,
        &rules.earn_rules(partner_id, branch_id),
    )?;
    limits.check_points(earning.points)?;
    if let Some(release_at) = purchase.release_at
        && (release_at <= now || release_at > now + settings.max_release)
    {
        return Err(LedgerError::ReleaseAtInvalid {
            max_days: settings.max_release.num_days(),
        }
        .into());
    }
    let holder = lookups.card_holder(&purchase.card).await?;
    let member_id = holder.member_id;
    // Only a referred member's purchase can reward a referrer: others need no query.
    let first_purchase = match rules.first_purchase_bonuses() {
        bonuses if bonuses.is_empty() || holder.referred_by.is_none() => Vec::new(),
        bonuses => match lookups.referrer_before_first_purchase(member_id).await? {
            None => Vec::new(),
            Some(referrer) => bonuses
                .into_iter()
                .map(|(code, shares)| FirstPurchaseOffer {
                    referrer,
                    code,
                    occasion: format!("first-purchase:{member_id}"),
                    shares,
                })
                .collect(),
        },
    };
    Ok(LedgerOp::Earn(PricedEarn {
        at: PointOfSale {
            partner_id,
            branch_id,
            member_id,
            card: purchase.card,
            reference: purchase.reference,
            idempotency_key: idempotency_key.map(str::to_owned),
        },
        points: earning.points,
        capped: earning.capped,
        amount: purchase.amount,
        release_at: purchase.release_at,
        occurred_at: purchase.occurred_at.map(|_| at),
        offers: rules.offers(partner_id, branch_id),
        repeat_visits: rules.repeat_visits(),
        first_purchase,
    }))
}

/// Checks and prices a redemption (or a hold).
pub(crate) async fn price_redemption(
    lookups: &mut Lookups<'_>,
    settings: &ProgramSettings,
    partner_id: PartnerId,
    idempotency_key: Option<&str>,
    redemption: Redemption,
) -> Result<LedgerOp, OperationError<LedgerError>> {
    let hold = match redemption.hold {
        None => None,
        Some(hold) => {
            let hold = hold.unwrap_or(settings.default_hold);
            let invalid = || LedgerError::HoldTimeoutInvalid {
                max_secs: settings.max_hold.as_secs(),
            };
            if hold.is_zero() || hold > settings.max_hold {
                return Err(invalid().into());
            }
            // Whole microseconds: a hold's timeout is stored, and answered, at that precision.
            let micros = i64::try_from(hold.as_micros()).map_err(|_| invalid())?;
            Some(chrono::Duration::microseconds(micros))
        }
    };
    let (branch_id, rule, limits) = lookups
        .branch_rule(settings, partner_id, &redemption.branch)
        .await?;
    limits.check_points(redemption.points)?;
    let discount = rule.price_redemption(redemption.points)?;
    let member_id = lookups.card_holder(&redemption.card).await?.member_id;
    Ok(LedgerOp::Redeem(PricedRedemption {
        at: PointOfSale {
            partner_id,
            branch_id,
            member_id,
            card: redemption.card,
            reference: redemption.reference,
            idempotency_key: idempotency_key.map(str::to_owned),
        },
        points: redemption.points,
        discount,
        hold,
    }))
}

/// Checks a step on the partner's transfer `id`. Reversing a capture or a release reverses the
/// pending transfer it resolved.
pub(crate) async fn follow_up(
    lookups: &mut Lookups<'_>,
    partner_id: PartnerId,
    idempotency_key: Option<&str>,
    id: TransferId,
    step: Step,
) -> Result<LedgerOp, OperationError<LedgerError>> {
    let requested = lookups
        .transfer(id)
        .await?
        .filter(|t| t.partner_id == Some(partner_id))
        .ok_or(LedgerError::TransferNotFound(id))?;
    let original = match (&step, requested.phase, requested.pending_id) {
        (Step::Reverse { .. }, Phase::Post, Some(pending_id)) => lookups
            .transfer(pending_id)
            .await?
            .ok_or(LedgerError::TransferNotFound(id))?,
        _ => requested,
    };
    let key = idempotency_key.map(str::to_owned);
    Ok(LedgerOp::FollowUp(FollowUp::new(
        partner_id, key, original, step,
    )?))
}
