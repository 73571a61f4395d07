//! The programme's rules: adding, changing and retiring them (each a new version, recorded with
//! who made it), and reading them. The admin API and `clubgate program` call these.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::ids::{BranchId, PartnerId};
use domain::member_data::MemberDataKeys;
use domain::partners::Code;
use domain::program::campaigns::{self, Audience, CampaignOffer, RepeatVisitOffer};
use domain::program::earning::PlacedRule;
use domain::program::rules::{self, Change, RuleDefinition, RuleError, RuleKind, RuleVersion};
use domain::program::validation::{self, Known};
use storage::{Connection, Storage, StorageError};

use crate::Club;
use crate::error::OperationError;
use crate::idempotency::IdempotencyKey;

type Result<T> = std::result::Result<T, OperationError<RuleError>>;

/// A bonus's points by funder: the operator (`None`) or a partner.
type Shares = Vec<(Option<PartnerId>, domain::points::Points)>;

/// Who asks for a change: a name (an operator key id, or `cli:` and the machine user) and, through
/// the admin API, the request's idempotency key and fingerprint, so a retry gets the version the
/// first attempt made instead of making another.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    /// Recorded with the version.
    pub name: &'a str,
    /// The request's `Idempotency-Key` and fingerprint.
    pub request: Option<(&'a IdempotencyKey, [u8; 32])>,
}

/// A change's version, and whether an earlier attempt of the same request made it.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The version.
    pub version: RuleVersion,
    /// Made by an earlier attempt with the same key.
    pub is_replay: bool,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeRefusal {
    /// The rule or version is not acceptable.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The idempotency key made another change before.
    #[error("this Idempotency-Key was used with another request")]
    RequestReused,
}

fn code_of(code: &str) -> Result<Code> {
    Code::parse(code).map_err(|_| OperationError::Refused(RuleError::CodeInvalid(code.to_owned())))
}

/// Makes the next version of rule `kind`/`code` (`change`), in force from `effective_from` (as
/// soon as every instance has read it when `None`: now plus the rules' refresh), checked against
/// what is in force then. A refusal writes nothing, so a retried
/// refusal is decided again.
#[tracing::instrument(skip(storage, change, author), fields(rule.kind = %kind, rule.code = %code))]
pub async fn change(
    storage: &Storage,
    kind: RuleKind,
    code: &str,
    change: Change,
    effective_from: Option<DateTime<Utc>>,
    author: Author<'_>,
    now: DateTime<Utc>,
) -> std::result::Result<Changed, OperationError<ChangeRefusal>> {
    let refused = |e: RuleError| OperationError::Refused(ChangeRefusal::Rule(e));
    let code = code_of(code).map_err(|e| e.map_refusal(ChangeRefusal::Rule))?;
    let now = domain::time::stored(now);
    let mut conn = storage.db().await?;
    let changed = conn
        .transaction::<_, OperationError<ChangeRefusal>, _>(async |conn| {
            storage::program::lock_rules(conn).await?;
            // Every instance has read the change by `earliest` (`storage::program::RuleCache`),
            // counted from when the lock is held, with a second for the checks and the commit.
            let refresh = storage.rules_refresh();
            let margin = if refresh.is_zero() {
                chrono::Duration::zero()
            } else {
                chrono::Duration::seconds(1)
            };
            let earliest = domain::time::stored(Utc::now().max(now)) + refresh + margin;
            let effective_from = effective_from.map_or(earliest, domain::time::stored);
            if let Some((key, fingerprint)) = author.request
                && let Some((version, first)) =
                    storage::program::by_request(conn, author.name, key.as_str()).await?
            {
                return if first == fingerprint {
                    Ok(Changed {
                        version,
                        is_replay: true,
                    })
                } else {
                    Err(OperationError::Refused(ChangeRefusal::RequestReused))
                };
            }
            let all = storage::program::versions(conn, None, None).await?;
            let own: Vec<RuleVersion> = all
                .iter()
                .filter(|v| v.kind == kind && v.code == code)
                .cloned()
                .collect();
            let version = rules::next_version(
                kind,
                code,
                &own,
                change,
                effective_from,
                earliest,
                (author.name, now),
            )
            .map_err(refused)?;
            if let Some(definition) = &version.definition {
                let known = known_at(conn, &all, &version)
                    .await
                    .map_err(|e| e.map_refusal(ChangeRefusal::Rule))?;
                validation::validate(definition, &known).map_err(refused)?;
            }
            let request = author
                .request
                .map(|(key, fingerprint)| (key.as_str(), fingerprint));
            storage::program::insert(conn, &version, request.as_ref().map(|(k, f)| (*k, &f[..])))
                .await?;
            Ok(Changed {
                version,
                is_replay: false,
            })
        })
        .await?;
    let version = &changed.version;
    if !changed.is_replay {
        tracing::info!(
            version = version.version,
            from = %version.effective_from,
            by = %version.created_by,
            retired = version.definition.is_none(),
            "programme rule {} {} version {}",
            version.kind,
            version.code,
            version.version
        );
    }
    Ok(changed)
}

/// What exists when `version` comes into force, other than its own rule (`all`: every rule's
/// versions).
pub(crate) async fn known_at(
    conn: &mut Connection,
    all: &[RuleVersion],
    version: &RuleVersion,
) -> Result<Known> {
    let mut known = Known::default();
    let places = Places::read(conn).await?;
    for code in places.partners.keys() {
        known.partners.insert(code.clone(), Default::default());
    }
    for (partner, branch) in places.branches.keys() {
        known
            .partners
            .entry(partner.clone())
            .or_default()
            .insert(branch.clone());
    }
    for other in rules::in_force(all, version.effective_from) {
        if other.kind == version.kind && other.code == version.code {
            continue;
        }
        match &other.definition {
            Some(rules::RuleDefinition::Category(_)) => {
                known.categories.insert(other.code.to_string());
            }
            Some(rules::RuleDefinition::Tier(tier)) => {
                known.tiers.insert(other.code.to_string(), tier.rank);
            }
            _ => {}
        }
    }
    Ok(known)
}

/// Every version of every rule (of `kind`, when given), by kind, code and version.
pub async fn list(storage: &Storage, kind: Option<RuleKind>) -> Result<Vec<RuleVersion>> {
    Ok(storage::program::versions(&mut *storage.db().await?, kind, None).await?)
}

/// The versions of one rule, oldest first.
pub async fn show(storage: &Storage, kind: RuleKind, code: &str) -> Result<Vec<RuleVersion>> {
    let code = code_of(code)?;
    let versions =
        storage::program::versions(&mut *storage.db().await?, Some(kind), Some(code.as_str()))
            .await?;
    if versions.is_empty() {
        return Err(OperationError::Refused(RuleError::NotFound(
            kind,
            code.to_string(),
        )));
    }
    Ok(versions)
}

/// Partners' and branches' ids by code: what rules name, resolved.
#[derive(Debug, Default)]
pub(crate) struct Places {
    partners: HashMap<String, PartnerId>,
    branches: HashMap<(String, String), BranchId>,
}

impl Places {
    pub(crate) async fn load(storage: &Storage) -> std::result::Result<Self, StorageError> {
        Self::read(&mut *storage.db().await?).await
    }

    pub(crate) async fn read(conn: &mut Connection) -> std::result::Result<Self, StorageError> {
        let mut places = Self::default();
        for partner in storage::partners::list(conn).await? {
            for branch in storage::branches::list_for_partner(conn, partner.id).await? {
                places.branches.insert(
                    (partner.code.to_string(), branch.code.to_string()),
                    branch.id,
                );
            }
            places.partners.insert(partner.code.to_string(), partner.id);
        }
        Ok(places)
    }

    /// `points` of a bonus split between its `funding`'s funders, by id; `None` if it names a
    /// partner that does not exist (rules name partners that existed when they were made, and
    /// partners are never removed).
    pub(crate) fn shares(
        &self,
        points: i64,
        funding: &[domain::program::rules::Share],
    ) -> Option<Shares> {
        domain::program::bonuses::split(points, funding)
            .into_iter()
            .map(|(funder, part)| {
                let funder = match funder {
                    domain::program::bonuses::Funder::Operator => None,
                    domain::program::bonuses::Funder::Partner(code) => {
                        Some(*self.partners.get(&code)?)
                    }
                };
                Some((funder, domain::points::Points(part)))
            })
            .collect()
    }

    /// The code of partner `id`.
    pub(crate) fn partner_code(&self, id: PartnerId) -> Option<&str> {
        self.partners
            .iter()
            .find(|(_, p)| **p == id)
            .map(|(code, _)| code.as_str())
    }

    fn branch(&self, partner: Option<&str>, branch: Option<&str>) -> Option<BranchId> {
        self.branches
            .get(&(partner?.to_owned(), branch?.to_owned()))
            .copied()
    }
}

/// The programme's rules as this instance read them, with the places they name resolved: what
/// awarding a bonus needs.
pub(crate) struct Programme {
    /// Every version of every rule.
    pub(crate) rules: Arc<Vec<RuleVersion>>,
    /// Partners' and branches' ids by code.
    pub(crate) places: Arc<Places>,
}

impl Programme {
    pub(crate) async fn of(club: &Club) -> std::result::Result<Self, StorageError> {
        Ok(Self {
            rules: club.storage.program_rules().await?,
            places: club.places().await?,
        })
    }
}

/// The rules that price a purchase, as read: the earn rules, campaigns and repeat-visit bonuses
/// a purchase at a branch comes under by place and time, and the categories its basket may name.
pub(crate) struct PurchaseRules {
    rules: Arc<Vec<RuleVersion>>,
    places: Option<Arc<Places>>,
    zone: chrono_tz::Tz,
    /// For the keyed hash of a campaign's city.
    keys: MemberDataKeys,
}

impl PurchaseRules {
    /// The rules as the club knows them now (places are read only when a rule that names
    /// partners and branches exists).
    pub(crate) async fn of(club: &Club) -> std::result::Result<Self, StorageError> {
        let rules = club.storage.program_rules().await?;
        let names_places = rules.iter().any(|v| {
            matches!(v.kind, RuleKind::Campaign | RuleKind::EarnRule)
                || matches!(&v.definition, Some(RuleDefinition::Bonus(b))
                    if matches!(b.occasion, rules::Occasion::RepeatVisit | rules::Occasion::ReferralFirstPurchase))
        });
        let places = if names_places {
            Some(club.places().await?)
        } else {
            None
        };
        Ok(Self {
            rules,
            places,
            zone: club.program.time_zone,
            keys: club.member_data_keys.clone(),
        })
    }

    /// Whether `scope`'s partner and branch (each everywhere when absent) are `partner_id` and
    /// `branch_id`. A place not (yet) known to this instance matches nothing rather than
    /// everything.
    pub(crate) fn at_place(
        places: &Places,
        scope: &rules::Scope,
        partner_id: PartnerId,
        branch_id: BranchId,
    ) -> bool {
        scope
            .partner
            .as_deref()
            .is_none_or(|p| places.partners.get(p) == Some(&partner_id))
            && (scope.branch.is_none()
                || places.branch(scope.partner.as_deref(), scope.branch.as_deref())
                    == Some(branch_id))
    }

    /// Campaign `code` as the books apply it, with the places and funders it names resolved;
    /// `None` when one of them is not known.
    pub(crate) fn offer(
        places: &Places,
        keys: &MemberDataKeys,
        code: &str,
        rule: &rules::CampaignRule,
    ) -> Option<CampaignOffer> {
        let partner_of = |code: &str| places.partners.get(code).copied();
        let segment = &rule.segment;
        let home_partner = match segment.home_partner.as_deref() {
            Some(home) => Some(partner_of(home)?),
            None => None,
        };
        let home_branch = match segment.home_branch.as_deref() {
            Some(_) => Some(places.branch(
                segment.home_partner.as_deref(),
                segment.home_branch.as_deref(),
            )?),
            None => None,
        };
        let funding = rule
            .funding
            .iter()
            .map(|share| {
                let funder = match share.funder.as_str() {
                    "operator" => None,
                    code => Some(partner_of(code)?),
                };
                Some((funder, share.share))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(CampaignOffer {
            code: code.to_owned(),
            name: rule.name.clone(),
            award: rule.award.clone(),
            audience: Audience {
                tiers: segment.tiers.clone(),
                home_partner,
                home_branch,
                birthday_month: segment.birthday_month,
                enrolled_within_days: segment.enrolled_within_days,
                inactive_days: segment.inactive_days,
                city: segment.city.as_deref().map(|city| keys.city_lookup(city)),
            },
            budget_points: rule.budget_points,
            funding,
        })
    }

    /// The rules in force at `at`, read once for everything a purchase then comes under.
    pub(crate) fn at(&self, at: DateTime<Utc>) -> RulesAt<'_> {
        RulesAt {
            in_force: rules::in_force(&self.rules, at),
            places: self.places.as_deref(),
            keys: &self.keys,
            zone: self.zone,
            at,
        }
    }
}

/// The rules in force at one time, for pricing a purchase made then.
pub(crate) struct RulesAt<'r> {
    in_force: Vec<&'r RuleVersion>,
    places: Option<&'r Places>,
    keys: &'r MemberDataKeys,
    zone: chrono_tz::Tz,
    at: DateTime<Utc>,
}

impl<'r> RulesAt<'r> {
    /// The earn rules at `partner_id`'s `branch_id`, by code.
    pub(crate) fn earn_rules(
        &self,
        partner_id: PartnerId,
        branch_id: BranchId,
    ) -> Vec<PlacedRule<'r>> {
        let Some(places) = self.places else {
            return Vec::new();
        };
        self.in_force
            .iter()
            .filter_map(|version| match &version.definition {
                Some(RuleDefinition::EarnRule(rule))
                    if PurchaseRules::at_place(places, &rule.scope, partner_id, branch_id) =>
                {
                    Some(PlacedRule {
                        code: version.code.as_str(),
                        rule,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// The first of `categories` that is not a category in force.
    pub(crate) fn unknown_category<'c>(
        &self,
        categories: impl Iterator<Item = &'c str>,
    ) -> Option<&'c str> {
        let known: HashSet<&str> = self
            .in_force
            .iter()
            .filter(|v| v.kind == RuleKind::Category)
            .map(|v| v.code.as_str())
            .collect();
        categories
            .into_iter()
            .find(|category| !known.contains(category))
    }

    /// The bonuses for `occasion`, their points split between their funders.
    fn bonuses(
        &self,
        occasion: rules::Occasion,
    ) -> Vec<(domain::program::bonuses::Bonus<'r>, Shares)> {
        let Some(places) = self.places else {
            return Vec::new();
        };
        domain::program::bonuses::of_occasion(&self.in_force, occasion)
            .into_iter()
            .filter_map(|bonus| {
                let shares = places.shares(bonus.rule.points, &bonus.rule.funding)?;
                Some((bonus, shares))
            })
            .collect()
    }

    /// The bonuses for a referred member's first purchase: (code, points split between their
    /// funders).
    pub(crate) fn first_purchase_bonuses(&self) -> Vec<(String, Shares)> {
        self.bonuses(rules::Occasion::ReferralFirstPurchase)
            .into_iter()
            .map(|(bonus, shares)| (bonus.code.to_owned(), shares))
            .collect()
    }

    /// The repeat-visit bonuses, their points split between their funders.
    pub(crate) fn repeat_visits(&self) -> Vec<RepeatVisitOffer> {
        let day = domain::program::tiers::local_day(self.at, self.zone);
        self.bonuses(rules::Occasion::RepeatVisit)
            .into_iter()
            .filter_map(|(bonus, shares)| {
                Some(RepeatVisitOffer {
                    code: bonus.code.to_owned(),
                    occasion: format!("repeat-visit:{day}"),
                    visits: bonus.rule.visits?,
                    within_days: bonus.rule.within_days?,
                    shares,
                })
            })
            .collect()
    }

    /// The campaigns a purchase at `partner_id`'s `branch_id` qualifies for by place and day (the
    /// books check the member's audience and the budget).
    pub(crate) fn offers(&self, partner_id: PartnerId, branch_id: BranchId) -> Vec<CampaignOffer> {
        let Some(places) = self.places else {
            return Vec::new();
        };
        self.in_force
            .iter()
            .filter_map(|version| match &version.definition {
                Some(RuleDefinition::Campaign(rule)) => Some((version.code.as_str(), rule)),
                _ => None,
            })
            .filter(|(_, rule)| campaigns::runs_at(rule, self.at, self.zone))
            .filter(|(_, rule)| PurchaseRules::at_place(places, &rule.scope, partner_id, branch_id))
            // A place or funder not (yet) known to this instance skips the campaign rather than
            // widening it.
            .filter_map(|(code, rule)| PurchaseRules::offer(places, self.keys, code, rule))
            .collect()
    }
}
