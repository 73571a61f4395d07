//! Branches and their point rules, as requests meet them: which branch a request
//! names, the rule in force there (cached for a few seconds), quotes, and the
//! operator setting a rule.

use chrono::{DateTime, Utc};
use domain::cards::CardNumber;
use domain::ids::{BranchId, PartnerId};
use domain::ledger::LedgerError;
use domain::partners::{Branch, BranchError};
use domain::points::Points;
use domain::pricing::{BranchPricing, PointRule, PricingError, Quote};
use domain::program::campaigns::CampaignOffer;
use domain::program::earning::BasketLine;
use domain::program::{earning, tiers};
use storage::{Connection, Storage, StorageError};

use crate::Club;
use crate::error::OperationError;
use crate::program::PurchaseRules;

/// The calling partner's branch named by code or id.
pub(crate) async fn branch_of<E: From<BranchError>>(
    conn: &mut Connection,
    partner_id: PartnerId,
    named: &str,
) -> Result<Branch, OperationError<E>> {
    // The refusal is recorded and echoed: a control character in the name goes in escaped.
    let unknown = || {
        OperationError::Refused(E::from(BranchError::Unknown(
            named
                .chars()
                .take(63)
                .collect::<String>()
                .escape_debug()
                .to_string(),
        )))
    };
    if let Ok(id) = named.parse::<BranchId>() {
        return match storage::branches::find(conn, id).await? {
            Some(branch) => branch
                .of_partner(partner_id)
                .map_err(|e| OperationError::Refused(e.into())),
            None => Err(unknown()),
        };
    }
    storage::branches::find_by_code(conn, partner_id, named)
        .await?
        .ok_or_else(unknown)
}

/// The partner's branch (by code or id) and the rule in force there, cached for a few seconds
/// (a rule change takes effect within that time).
pub(crate) async fn branch_rule_cached(
    storage: &Storage,
    partner_id: PartnerId,
    named: &str,
) -> Result<BranchPricing, OperationError<PricingError>> {
    let key = (partner_id, named.to_owned());
    if let Some(found) = storage.card_cache().rules.get(&key).await {
        return Ok(found);
    }
    let mut conn = storage.db().await?;
    let found = branch_pricing::<PricingError>(&mut conn, partner_id, named).await?;
    storage.card_cache().rules.insert(key, found.clone()).await;
    Ok(found)
}

/// The rule in force at the partner's branch (by code or id), if it has one: what a till asks
/// before it takes an amount (its currency) or offers points off a bill.
pub async fn branch_rule(
    club: &Club,
    partner_id: PartnerId,
    branch: &str,
) -> Result<Option<PointRule>, OperationError<PricingError>> {
    Ok(branch_rule_cached(&club.storage, partner_id, branch)
        .await?
        .rule)
}

/// The branch named, its rule and the partner's limits, read from `conn`.
pub(crate) async fn branch_pricing<E: From<BranchError>>(
    conn: &mut Connection,
    partner_id: PartnerId,
    named: &str,
) -> Result<BranchPricing, OperationError<E>> {
    let branch = branch_of::<E>(conn, partner_id, named).await?;
    Ok(BranchPricing {
        branch_id: branch.id,
        rule: storage::rules::for_branch(conn, partner_id, branch.id).await?,
        limits: storage::partners::find(conn, partner_id)
            .await?
            .map(|partner| partner.limits)
            .unwrap_or_default(),
    })
}

/// What a purchase of `amount_minor` with basket `lines` would earn (under the earn rules in
/// force at `now`, before a member's caps and tier) and what `points` would take off the bill at
/// the partner's branch; posts nothing.
pub async fn quote(
    club: &Club,
    partner_id: PartnerId,
    branch: &str,
    (amount_minor, lines): (Option<i64>, &[BasketLine]),
    points: Option<Points>,
    now: DateTime<Utc>,
) -> Result<Quote, OperationError<LedgerError>> {
    let mut conn = club.storage.db().await?;
    let branch = branch_pricing::<LedgerError>(&mut conn, partner_id, branch).await?;
    // The same bounds as the earn or redemption it quotes for.
    let limits = branch.limits.over(club.program.limits);
    if let Some(amount_minor) = amount_minor {
        limits.check_purchase(amount_minor)?;
    }
    if let Some(points) = points {
        limits.check_points(points)?;
    }
    let rule = branch.rule.ok_or(PricingError::RuleMissing)?;
    let rules = PurchaseRules::of(club).await?;
    let rules = rules.at(now);
    if let Some(category) = rules.unknown_category(lines.iter().map(|l| l.category.as_str())) {
        return Err(LedgerError::CategoryUnknown(category.to_owned()).into());
    }
    let earn_rules = rules.earn_rules(partner_id, branch.branch_id);
    let quote = Quote::new(rule, (amount_minor, lines), points, &earn_rules)?;
    if let Some(points) = quote.earn_points {
        limits.check_points(points)?;
    }
    Ok(quote)
}

/// Sets the rule of a partner, or of one of its branches when `branch_id` is given.
pub async fn set_rule(
    storage: &Storage,
    partner_id: PartnerId,
    branch_id: Option<BranchId>,
    rule: &PointRule,
) -> Result<(), StorageError> {
    storage::rules::upsert(&mut *storage.db().await?, partner_id, branch_id, rule).await
}

/// What a member's purchase would earn beyond the rule: their tier's multiplier and the campaigns
/// that would give them a bonus now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberQuote {
    /// The member's tier (when tiers are in force), with its rule and multiplier.
    pub tier: Option<domain::program::tiers::Standing>,
    /// The purchase's points at the member's tier.
    pub earn_points: Points,
    /// Each campaign's bonus: (code, points), within what is left of its budget.
    pub campaigns: Vec<(String, i64)>,
}

/// Prices `amount_minor` at `branch` for the member of `card` at `now`, as an earn would: the
/// points under the earn rules, held to what is left of the member's caps, times the tier's
/// multiplier (rounded down), and each campaign's bonus for this member (its audience, what is
/// left of its budget). Read without locks, so a concurrent earn may take what is left first.
/// Posts nothing.
pub async fn quote_for_member(
    club: &Club,
    partner_id: PartnerId,
    branch: &str,
    (amount_minor, lines): (i64, &[BasketLine]),
    card: &CardNumber,
    now: DateTime<Utc>,
) -> Result<MemberQuote, OperationError<LedgerError>> {
    let found = branch_rule_cached(&club.storage, partner_id, branch)
        .await
        .map_err(|e| e.map_refusal(LedgerError::from))?;
    let rule = found.rule.ok_or(PricingError::RuleMissing)?;
    let rules = PurchaseRules::of(club).await?;
    let earn_rules = rules.at(now).earn_rules(partner_id, found.branch_id);
    let check = crate::members::check_card(club, partner_id, None, card, now).await?;
    let earned = earning::quoted(&rule, amount_minor, lines, &earn_rules)?;
    let base = held_to_caps(club, check.member_id, &earned, now).await?;
    let tier = check.tier.as_ref();
    let earn_points = domain::program::tiers::multiplied(base, tier.map(|s| &s.rule));
    let offers = campaigns_for(
        club,
        partner_id,
        found.branch_id,
        check.member_id,
        tier.map(|s| s.tier.as_str()),
        now,
    )
    .await?;
    let bonuses = offers
        .into_iter()
        .map(|(offer, left)| {
            let points = offer.points(base).min(left.unwrap_or(i64::MAX));
            (offer.code, points)
        })
        .filter(|(_, points)| *points > 0)
        .collect();
    Ok(MemberQuote {
        tier: check.tier.clone(),
        earn_points,
        campaigns: bonuses,
    })
}

/// `earned` held to what is left of its capped rules' caps for `member_id`.
async fn held_to_caps(
    club: &Club,
    member_id: domain::ids::MemberId,
    earned: &earning::Earning,
    now: DateTime<Utc>,
) -> Result<Points, OperationError<LedgerError>> {
    if earned.capped.is_empty() {
        return Ok(earned.points);
    }
    let today = tiers::local_day(now, club.program.time_zone);
    let month = club.program.month_calendar.month_of(today);
    let conn = club.storage.db().await?;
    let codes: Vec<&str> = earned.capped.iter().map(|c| c.rule.as_str()).collect();
    let given =
        storage::activity::earn_rule_points(&conn, &[member_id], &codes, month.start).await?;
    let (points, _) =
        earning::hold_to_caps(earned.points, &earned.capped, (today, month), |rule| {
            given
                .iter()
                .filter(|(_, r, _, _)| r == rule)
                .map(|(_, _, day, points)| (*day, *points))
                .collect::<Vec<_>>()
        });
    Ok(Points(points.max(0)))
}

/// The campaigns a purchase by `member_id` (in `tier`) at `partner_id`'s `branch_id` would get a
/// bonus from at `now`: its place, day and audience, with what is left of its budget (`None`: no
/// budget; read without a lock, so a concurrent earn may take it first).
pub(crate) async fn campaigns_for(
    club: &Club,
    partner_id: PartnerId,
    branch_id: BranchId,
    member_id: domain::ids::MemberId,
    tier: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<(CampaignOffer, Option<i64>)>, StorageError> {
    let offers = PurchaseRules::of(club)
        .await?
        .at(now)
        .offers(partner_id, branch_id);
    if offers.is_empty() {
        return Ok(Vec::new());
    }
    let conn = club.storage.db().await?;
    let facts = if offers.iter().any(|o| o.audience.needs_facts()) {
        storage::members::facts(&conn, &[member_id]).await?
    } else {
        Vec::new()
    };
    let codes: Vec<&str> = offers.iter().map(|o| o.code.as_str()).collect();
    let spent = storage::bonuses::campaign_spent(&conn, &codes).await?;
    Ok(offers
        .into_iter()
        .filter(|offer| {
            let facts = facts.first().map(|(_, f)| f);
            offer
                .audience
                .admits(tier, facts, now, club.program.time_zone)
        })
        .filter_map(|offer| {
            let used = spent
                .iter()
                .find(|(code, _)| *code == offer.code)
                .map_or(0, |(_, p)| *p);
            let left = offer.left(used);
            (left != Some(0)).then_some((offer, left))
        })
        .collect())
}
