//! A campaign's dry run: the posted purchases of the last days replayed against it, as the books
//! would have decided each (its place, weekday, audience and budget; not its window), to see what
//! it would have cost, who would have paid, and whom it would have reached. Writes nothing.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ids::MemberId;
use domain::program::campaigns::{DryRun, MemberFacts};
use domain::program::rules::{
    CampaignRule, Change, RuleDefinition, RuleError, RuleKind, RuleVersion,
};
use domain::program::{tiers, validation};

use chrono_tz::Tz;
use domain::member_data::MemberDataKeys;
use storage::Storage;

use crate::error::OperationError;
use crate::program::{Places, PurchaseRules, known_at, show};

type Result<T> = std::result::Result<T, OperationError<RuleError>>;

/// How many past purchases are read at once.
const PAGE: i64 = 5_000;
/// The longest replay, in days.
pub const MAX_DAYS: u16 = 366;

/// What a dry run replayed and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunReport {
    /// The purchases replayed happened in `[from, to)`.
    pub from: DateTime<Utc>,
    /// The end.
    pub to: DateTime<Utc>,
    /// What the campaign would have given.
    pub found: DryRun,
    /// What each funder would have paid: `operator` or a partner's code, points.
    pub funders: Vec<(String, i64)>,
}

/// Replays the last `days` days (to `now`) against `campaign`, checked as a new version of it
/// would be.
pub async fn dry_run(
    storage: &Storage,
    (zone, keys): (Tz, &MemberDataKeys),
    campaign: &CampaignRule,
    days: u16,
    now: DateTime<Utc>,
) -> Result<DryRunReport> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(OperationError::Refused(RuleError::AmountInvalid(format!(
            "days must be 1 to {MAX_DAYS}"
        ))));
    }
    let mut conn = storage.db().await?;
    let all = storage::program::versions(&mut conn, None, None).await?;
    let definition = RuleDefinition::Campaign(campaign.clone());
    let draft = rules_draft(definition.clone(), now)?;
    validation::validate(&definition, &known_at(&mut conn, &all, &draft).await?)
        .map_err(OperationError::Refused)?;
    let places = Places::read(&mut conn).await?;
    // The rule was just checked against these places: each it names is known.
    let offer =
        PurchaseRules::offer(&places, keys, draft.code.as_str(), campaign).ok_or_else(|| {
            OperationError::Refused(RuleError::PlaceUnknown(
                "a place or funder the campaign names is not known".into(),
            ))
        })?;
    let (from, to) = (now - Duration::days(i64::from(days)), now);
    let mut found = DryRun::default();
    let mut after = None;
    let mut last_visits: HashMap<MemberId, Option<NaiveDate>> = HashMap::new();
    loop {
        let page = storage::activity::past_earns(&conn, from, to, after, PAGE).await?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(*last);
        let facts: HashMap<MemberId, MemberFacts> = if offer.audience.needs_facts() {
            let mut ids: Vec<MemberId> = page.iter().map(|(_, e)| e.member_id).collect();
            ids.sort_unstable();
            ids.dedup();
            storage::members::facts(&conn, &ids)
                .await?
                .into_iter()
                .collect()
        } else {
            HashMap::new()
        };
        // Each member's last purchase before the one replayed: before the days replayed, then
        // as the replay goes.
        if offer.audience.inactive_days.is_some() {
            let new: Vec<MemberId> = facts
                .keys()
                .copied()
                .filter(|id| !last_visits.contains_key(id))
                .collect();
            let before = tiers::local_day(from, zone);
            for (id, day) in storage::members::last_visits(&conn, &new, Some(before)).await? {
                last_visits.insert(id, Some(day));
            }
            for id in new {
                last_visits.entry(id).or_insert(None);
            }
        }
        for (_, earn) in &page {
            let at_place =
                PurchaseRules::at_place(&places, &campaign.scope, earn.partner_id, earn.branch_id);
            let facts = facts.get(&earn.member_id).map(|f| MemberFacts {
                last_visit: last_visits.get(&earn.member_id).copied().flatten(),
                ..f.clone()
            });
            found.replay(&offer, &campaign.days, at_place, earn, facts.as_ref(), zone);
            // A late earn replayed after a later purchase does not move the last visit back.
            let day = Some(tiers::local_day(earn.at, zone));
            let last = last_visits.entry(earn.member_id).or_insert(day);
            *last = (*last).max(day);
        }
        tracing::info!(
            replayed = found.earns,
            rewarded = found.rewarded,
            points = found.points,
            "campaign dry run: {} purchases replayed so far",
            found.earns
        );
        if page.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            break;
        }
    }
    let funders = found
        .by_funder
        .iter()
        .map(|(funder, points)| {
            let name = match funder {
                None => "operator".to_owned(),
                Some(id) => places.partner_code(*id).unwrap_or("?").to_owned(),
            };
            (name, *points)
        })
        .collect();
    Ok(DryRunReport {
        from,
        to,
        found,
        funders,
    })
}

/// Replays the last `days` days against campaign `code` as its last version defines it
/// (scheduled or in force).
pub async fn dry_run_of(
    storage: &Storage,
    club: (Tz, &MemberDataKeys),
    code: &str,
    days: u16,
    now: DateTime<Utc>,
) -> Result<DryRunReport> {
    let versions = show(storage, RuleKind::Campaign, code).await?;
    let Some(RuleDefinition::Campaign(campaign)) =
        versions.last().and_then(|v| v.definition.clone())
    else {
        return Err(OperationError::Refused(RuleError::Retired(
            RuleKind::Campaign,
            code.to_owned(),
        )));
    };
    dry_run(storage, club, &campaign, days, now).await
}

/// The campaign as a version of a rule of its own, in force `now`: what it is checked as.
fn rules_draft(definition: RuleDefinition, now: DateTime<Utc>) -> Result<RuleVersion> {
    let code = domain::partners::Code::parse("dry-run")
        .map_err(|_| OperationError::Refused(RuleError::CodeInvalid("dry-run".into())))?;
    domain::program::rules::next_version(
        RuleKind::Campaign,
        code,
        &[],
        Change::Create(definition),
        now,
        now,
        ("dry-run", now),
    )
    .map_err(OperationError::Refused)
}
