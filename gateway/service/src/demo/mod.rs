//! The demo network: partners, branches, their development keys and point rules,
//! and demo members with a year of history. Loaded by `make run`.
//!
//! Loading is idempotent: what already exists is left as it is, so `make run`
//! can load the network every time. Members are generated from a fixed seed, so
//! every installation has the same demo cards (listed in the README). Half of the
//! members' history falls in the last days the demo terms settle, so the demo's
//! statements show real traffic.

pub mod partner_file;

use domain::keys::ReservedKeys;
use std::path::{Path, PathBuf};

use ::partners::jwk::Jwk;
use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use domain::cards::CardNumber;
use domain::ids::PartnerId;
use domain::keys::{KeyError, OperatorRole};
use domain::ledger::{LedgerError, Purchase, Redemption};
use domain::member_data::PersonalData;
use domain::members::NewMember;
use domain::partners::{NewBranch, NewPartner, PartnerError, PartnerKind};
use domain::points::{Currency, Money, Points};
use domain::pricing::PointRule;
use domain::program::ProgramSettings;
use domain::program::rules::{Change, RuleDefinition, RuleError, RuleKind};
use domain::settlement::terms::{self, NewTerms, PeriodKind};
use domain::staff::{StaffError, StaffRole};
use futures_util::TryStreamExt as _;
use operations::Club;
use operations::error::OperationError;
use operations::ledger::at;
use operations::settlement::terms as settlement_terms;
use operations::{keys, members, partners, pricing, program};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Deserialize;
use storage::Storage;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Network {
    partner: Vec<DemoPartner>,
    #[serde(default)]
    operator: Vec<DemoOperator>,
    /// The programme's rules (docs/program.md), created once.
    #[serde(default)]
    program: Vec<DemoProgramRule>,
    /// Staff accounts for the pages (docs/staff.md), created once.
    #[serde(default)]
    staff: Vec<DemoStaff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoStaff {
    login: String,
    name: String,
    role: String,
    partner: Option<String>,
    #[serde(default)]
    branches: Vec<String>,
    /// Published in the repository: development only.
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoProgramRule {
    kind: RuleKind,
    code: String,
    definition: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoOperator {
    name: String,
    role: OperatorRole,
    /// The operator's public JWK, relative to the network file.
    public_key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoTerms {
    currency: String,
    price: String,
    reimbursement: String,
    period: String,
    time_zone: String,
    starts_days_ago: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoPartner {
    code: String,
    name: String,
    kind: PartnerKind,
    /// The partner's public JWK, relative to the network file.
    public_key: PathBuf,
    rule: DemoRule,
    terms: Option<DemoTerms>,
    branches: Vec<DemoBranch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoBranch {
    code: String,
    name: String,
    city: Option<String>,
    rule: Option<DemoRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoRule {
    currency: String,
    earn_points: i64,
    per_amount_minor: i64,
    point_value_minor: i64,
}

impl DemoRule {
    fn rule(&self) -> anyhow::Result<PointRule> {
        Ok(PointRule::new(
            &self.currency,
            self.earn_points,
            self.per_amount_minor,
            self.point_value_minor,
        )?)
    }
}

/// Loads the partners described in `file`; returns one line per thing created.
pub async fn load(
    storage: &Storage,
    reserved: &ReservedKeys,
    file: &Path,
) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let network: Network = toml_from_str(&text)
        .with_context(|| format!("{} is not a demo network", file.display()))?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut created = Vec::new();
    for demo in network.partner {
        let new = NewPartner::parse(&demo.code, &demo.name, demo.kind)?;
        let partner = match partners::add(storage, new).await {
            Ok(partner) => {
                created.push(format!("partner {}", partner.code));
                partner
            }
            Err(OperationError::Refused(PartnerError::CodeTaken(_))) => {
                partners::show(storage, &demo.code).await?.partner
            }
            Err(e) => return Err(e.into()),
        };
        pricing::set_rule(storage, partner.id, None, &demo.rule.rule()?).await?;
        for branch in &demo.branches {
            let new = NewBranch::parse(&branch.code, &branch.name, branch.city.as_deref())?;
            let branch_id = match partners::add_branch(storage, &demo.code, new).await {
                Ok(b) => {
                    created.push(format!("branch {}/{}", demo.code, b.code));
                    b.id
                }
                Err(OperationError::Refused(PartnerError::BranchCodeTaken(..))) => {
                    partners::show(storage, &demo.code)
                        .await?
                        .branches
                        .into_iter()
                        .find(|b| b.code.as_str() == branch.code)
                        .context("branch vanished")?
                        .id
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(rule) = &branch.rule {
                pricing::set_rule(storage, partner.id, Some(branch_id), &rule.rule()?).await?;
            }
        }
        let key_path = dir.join(&demo.public_key);
        let public = Jwk::read(&key_path)?.public_key()?;
        match keys::register(storage, reserved, &demo.code, &public).await {
            Ok(_) => created.push(format!("key {} for {}", public.kid, demo.code)),
            Err(OperationError::Refused(KeyError::KeyIdTaken(_))) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(demo_terms) = &demo.terms
            && settlement_terms::list(storage, &demo.code)
                .await?
                .is_empty()
        {
            let zone = terms::parse_zone(&demo_terms.time_zone)?;
            let today = Utc::now().with_timezone(&zone).date_naive();
            let new = NewTerms {
                currency: Currency::parse(&demo_terms.currency)?,
                price_per_point: terms::parse_rate("price", &demo_terms.price)?,
                reimbursement_per_point: terms::parse_rate(
                    "reimbursement",
                    &demo_terms.reimbursement,
                )?,
                period: PeriodKind::parse(&demo_terms.period)?,
                time_zone: zone,
                starts_on: Some(today - chrono::Days::new(demo_terms.starts_days_ago)),
            };
            settlement_terms::set(storage, &demo.code, new, Utc::now()).await?;
            created.push(format!("settlement terms for {}", demo.code));
        }
    }
    for demo in network.operator {
        let public = Jwk::read(&dir.join(&demo.public_key))?.public_key()?;
        match keys::register_operator(storage, reserved, &demo.name, demo.role, &public).await {
            Ok(_) => created.push(format!(
                "operator key {} ({})",
                public.kid,
                demo.role.as_str()
            )),
            Err(OperationError::Refused(KeyError::KeyIdTaken(_))) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for demo in &network.staff {
        let new = operations::staff::NewStaff {
            login: &demo.login,
            name: &demo.name,
            role: StaffRole::parse(&demo.role).map_err(anyhow::Error::msg)?,
            partner: demo.partner.as_deref(),
            branches: &demo.branches,
        };
        let actor = operations::staff::Actor {
            name: "demo",
            from: "demo load",
        };
        match operations::staff::add(storage, new, &demo.password, actor, Utc::now()).await {
            Ok(member) => created.push(format!("staff {} ({})", member.login, member.role)),
            Err(OperationError::Refused(StaffError::LoginTaken)) => {}
            Err(e) => return Err(anyhow::anyhow!("staff {}: {e}", demo.login)),
        }
    }
    for demo in network.program {
        match program::show(storage, demo.kind, &demo.code).await {
            Ok(_) => continue,
            Err(OperationError::Refused(RuleError::NotFound(..))) => {}
            Err(e) => return Err(e.into()),
        }
        let definition = RuleDefinition::parse(demo.kind, demo.definition)
            .with_context(|| format!("programme rule {} {}", demo.kind, demo.code))?;
        let author = program::Author {
            name: "demo",
            request: None,
        };
        let change = Change::Create(definition);
        program::change(
            storage,
            demo.kind,
            &demo.code,
            change,
            None,
            author,
            Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("programme rule {} {}: {e}", demo.kind, demo.code))?;
        created.push(format!("programme rule {} {}", demo.kind, demo.code));
    }
    Ok(created)
}

/// The fixed card number of demo member `index`.
pub fn demo_card(settings: &ProgramSettings, index: u64) -> CardNumber {
    CardNumber::from_serial(&settings.card_prefix, 1_000_000 + index)
}

const FIRST_NAMES: [&str; 12] = [
    "Sara", "Reza", "Maryam", "Ali", "Neda", "Hamid", "Leila", "Kian", "Shirin", "Omid", "Parisa",
    "Babak",
];
const LAST_NAMES: [&str; 10] = [
    "Ahmadi", "Karimi", "Hosseini", "Rahimi", "Moradi", "Jafari", "Sadeghi", "Kazemi", "Rostami",
    "Navabi",
];

/// What one partner's till looks like to the demo generator.
struct DemoTill {
    partner_id: PartnerId,
    branches: Vec<String>,
    /// Typical bill, in minor units.
    bill: (i64, i64),
}

/// One demo member and the history generated for them.
struct DemoMember {
    index: u64,
    personal: PersonalData,
    home: usize,
    branch: String,
    enrolled_at: DateTime<Utc>,
    /// (till, is a redemption, when, a roll of the dice for the amount and branch), in time order.
    history: Vec<(usize, bool, DateTime<Utc>, i64)>,
}

/// How far back the demo's settled days reach: the longest `starts_days_ago` of the network's
/// terms (the demo network file in `keys/dev/` says 30).
const SETTLED_DAYS: i64 = 30;
/// Members enrolled at once (their histories are independent; PostgreSQL commits them in groups).
const CONCURRENT_MEMBERS: usize = 8;

/// Enrols `count` demo members with a year of earns and redemptions (once: skipped when members
/// exist). Half of each member's transactions fall within the last 30 days (the settled days).
pub async fn load_members(
    club: &Club,
    count: u64,
    on_progress: impl Fn(u64),
) -> anyhow::Result<u64> {
    let storage = &club.storage;
    if storage::members::count(&mut *storage.db().await?).await? > 0 {
        return Ok(0);
    }
    let mut tills = Vec::new();
    for partner in partners::list(storage).await? {
        let profile = partners::show(storage, partner.code.as_str()).await?;
        let bill = match partner.kind {
            PartnerKind::Hotel => (2_000_000_000, 20_000_000_000),
            PartnerKind::TourAgency => (1_000_000_000, 10_000_000_000),
            _ => (100_000_000, 1_000_000_000),
        };
        tills.push(DemoTill {
            partner_id: partner.id,
            branches: profile
                .branches
                .iter()
                .map(|b| b.code.to_string())
                .collect(),
            bill,
        });
    }
    anyhow::ensure!(!tills.is_empty(), "load the demo partners first");
    let now = Utc::now();
    let members = generate(&tills, count, now)?;
    let done = std::sync::atomic::AtomicU64::new(0);
    futures_util::stream::iter(members.into_iter().map(Ok))
        .try_for_each_concurrent(CONCURRENT_MEMBERS, |member| {
            let (tills, done, on_progress) = (&tills, &done, &on_progress);
            async move {
                enrol_with_history(club, tills, member).await?;
                let done = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if done % 100 == 0 {
                    on_progress(done);
                }
                anyhow::Ok(())
            }
        })
        .await?;
    Ok(count)
}

/// The demo members, drawn from a fixed seed (the same cards and histories everywhere).
fn generate(tills: &[DemoTill], count: u64, now: DateTime<Utc>) -> anyhow::Result<Vec<DemoMember>> {
    let mut rng = StdRng::seed_from_u64(2026);
    let settled_start = now - Duration::days(SETTLED_DAYS);
    (0..count)
        .map(|index| {
            let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
            let personal = PersonalData::parse(
                &format!("{first} {last}"),
                &format!("+98912{:07}", 1_000_000 + index),
                None,
                None,
                None,
                now.date_naive(),
            )?;
            let home = rng.gen_range(0..tills.len());
            let enrolled_at = now - Duration::days(rng.gen_range(40..400));
            let branch = tills[home].branches[rng.gen_range(0..tills[home].branches.len())].clone();
            let mut history: Vec<(usize, bool, DateTime<Utc>, i64)> = (0..rng.gen_range(1..7))
                .map(|_| {
                    // Half in the settled days (up to an hour ago), half before them.
                    let (from, to) = if rng.gen_bool(0.5) {
                        (settled_start, now - Duration::hours(1))
                    } else {
                        (enrolled_at, settled_start)
                    };
                    let at = from + Duration::seconds(rng.gen_range(0..(to - from).num_seconds()));
                    (
                        rng.gen_range(0..tills.len()),
                        rng.gen_bool(0.3),
                        at,
                        rng.gen_range(0..1_000),
                    )
                })
                .collect();
            history.sort_by_key(|op| op.2);
            Ok(DemoMember {
                index,
                personal,
                home,
                branch,
                enrolled_at,
                history,
            })
        })
        .collect()
}

async fn enrol_with_history(
    club: &Club,
    tills: &[DemoTill],
    member: DemoMember,
) -> anyhow::Result<()> {
    let card = demo_card(&club.program, member.index);
    let new = NewMember {
        branch: member.branch,
        personal: member.personal,
        card: Some(card.clone()),
        invite_code: None,
        consents_to_messages: false,
    };
    let home = &tills[member.home];
    members::enroll_at(club, home.partner_id, new, member.enrolled_at).await?;
    let irr = Currency::parse("IRR")?;
    for (n, (till_index, is_redemption, at, roll)) in member.history.into_iter().enumerate() {
        let till = &tills[till_index];
        let branch =
            till.branches[usize::try_from(roll).unwrap_or(0) % till.branches.len()].clone();
        let reference = format!("demo-{}-{n}", member.index);
        if is_redemption {
            let redemption = Redemption::new(
                branch,
                card.clone(),
                Points(1 + roll % 200),
                reference,
                None,
            )?;
            match at::redeem(club, till.partner_id, redemption, at).await {
                Ok(_) | Err(OperationError::Refused(LedgerError::InsufficientPoints { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            let (low, high) = till.bill;
            let amount = Money::new(low + (high - low) / 1_000 * roll, irr);
            let purchase =
                Purchase::new(branch, card.clone(), amount, reference, None, Vec::new())?;
            at::earn(club, till.partner_id, purchase, at).await?;
        }
    }
    Ok(())
}

fn toml_from_str<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    use figment::providers::{Format as _, Toml};
    Ok(figment::Figment::new()
        .merge(Toml::string(text))
        .extract()
        .map_err(Box::new)?)
}
