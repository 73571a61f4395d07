//! The demo network: partners, branches, their development keys and point rules,
//! and demo members with a year of history. Loaded by `make run`.
//!
//! Loading is idempotent: what already exists is left as it is, so `make run`
//! can load the network every time. Members are generated from a fixed seed, so
//! every installation has the same demo cards (listed in the README).

pub mod partner_file;

use std::path::{Path, PathBuf};

use ::partners::jwk::Jwk;
use anyhow::Context as _;
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Deserialize;

use crate::domain::cards::CardNumber;
use crate::domain::ledger::{
    self, EarnRequest, LedgerError, ProgramSettings, RedeemRequest, Teller,
};
use crate::domain::member_data::{MemberDataKeys, PersonalData};
use crate::domain::operators::{self, OperatorRole};
use crate::domain::partners::{self, NewBranch, NewPartner, PartnerError, PartnerKind};
use crate::domain::rules::{self, PointRule};
use crate::domain::{members, partner_keys, settlement};
use crate::storage::{self, Storage};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Network {
    partner: Vec<DemoPartner>,
    #[serde(default)]
    operator: Vec<DemoOperator>,
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
pub async fn load(storage: &Storage, file: &Path) -> anyhow::Result<Vec<String>> {
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
            Err(PartnerError::CodeTaken(_)) => partners::show(storage, &demo.code).await?.partner,
            Err(e) => return Err(e.into()),
        };
        rules::set(storage, partner.id, None, &demo.rule.rule()?).await?;
        for branch in &demo.branches {
            let new = NewBranch::parse(&branch.code, &branch.name, branch.city.as_deref())?;
            let branch_id = match partners::add_branch(storage, &demo.code, new).await {
                Ok(b) => {
                    created.push(format!("branch {}/{}", demo.code, b.code));
                    b.id
                }
                Err(PartnerError::BranchCodeTaken(..)) => {
                    let mut conn = storage.db().await?;
                    storage::branches::find_by_code(&mut conn, partner.id, &branch.code)
                        .await?
                        .context("branch vanished")?
                        .id
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(rule) = &branch.rule {
                rules::set(storage, partner.id, Some(branch_id), &rule.rule()?).await?;
            }
        }
        let key_path = dir.join(&demo.public_key);
        let public = Jwk::read(&key_path)?.public_key()?;
        if partner_keys::find_owner(storage, &public.kid)
            .await?
            .is_none()
        {
            partner_keys::register_for_code(storage, &demo.code, &public).await?;
            created.push(format!("key {} for {}", public.kid, demo.code));
        }
        if let Some(terms) = &demo.terms
            && settlement::list_terms(storage, &demo.code)
                .await?
                .is_empty()
        {
            let zone = settlement::terms::parse_zone(&terms.time_zone)?;
            let today = Utc::now().with_timezone(&zone).date_naive();
            let new = settlement::terms::NewTerms {
                currency: terms.currency.clone(),
                price_per_point: settlement::terms::parse_rate("price", &terms.price)?,
                reimbursement_per_point: settlement::terms::parse_rate(
                    "reimbursement",
                    &terms.reimbursement,
                )?,
                period: settlement::terms::PeriodKind::parse(&terms.period)?,
                time_zone: zone,
                starts_on: Some(today - chrono::Days::new(terms.starts_days_ago)),
            };
            settlement::set_terms(storage, &demo.code, new, Utc::now()).await?;
            created.push(format!("settlement terms for {}", demo.code));
        }
    }
    for demo in network.operator {
        let public = Jwk::read(&dir.join(&demo.public_key))?.public_key()?;
        let mut conn = storage.db().await?;
        if storage::operator_keys::find(&mut conn, &public.kid)
            .await?
            .is_none()
        {
            operators::register(storage, &demo.name, demo.role, &public).await?;
            created.push(format!(
                "operator key {} ({})",
                public.kid,
                demo.role.as_str()
            ));
        }
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
    teller: Teller,
    branches: Vec<String>,
    /// Typical bill, in minor units.
    bill: (i64, i64),
}

/// Enrols `count` demo members with a year of earns and redemptions (once: skipped when members exist).
pub async fn load_members(
    storage: &Storage,
    settings: &ProgramSettings,
    keys: &MemberDataKeys,
    count: u64,
    on_progress: impl Fn(u64),
) -> anyhow::Result<u64> {
    let mut conn = storage.db().await?;
    if storage::members::count(&mut conn).await? > 0 {
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
            teller: Teller {
                partner_id: partner.id,
                idempotency_key: None,
            },
            branches: profile
                .branches
                .iter()
                .map(|b| b.code.to_string())
                .collect(),
            bill,
        });
    }
    anyhow::ensure!(!tills.is_empty(), "load the demo partners first");
    let mut rng = StdRng::seed_from_u64(2026);
    let now = Utc::now();
    for index in 0..count {
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        let personal = PersonalData::parse(
            &format!("{first} {last}"),
            &format!("+98912{:07}", 1_000_000 + index),
            None,
            None,
            now.date_naive(),
        )?;
        let home = &tills[rng.gen_range(0..tills.len())];
        let enrolled_at = now - Duration::days(rng.gen_range(200..400));
        let branch = &home.branches[rng.gen_range(0..home.branches.len())];
        let card = demo_card(settings, index);
        let ops: Vec<(usize, bool, i64, i64)> = (0..rng.gen_range(1..7))
            .map(|_| {
                (
                    rng.gen_range(0..tills.len()),
                    rng.gen_bool(0.3),
                    rng.gen_range(0..190),
                    rng.gen_range(0..1_000),
                )
            })
            .collect();
        conn.transaction::<_, anyhow::Error, _>(async |conn| {
            let new = members::NewMember {
                branch: branch.clone(),
                personal: personal.clone(),
                card: Some(card.clone()),
            };
            members::enroll(conn, settings, keys, &home.teller, new, enrolled_at).await?;
            for (n, (till_index, is_redemption, days_later, roll)) in ops.iter().enumerate() {
                let till = &tills[*till_index];
                let at = enrolled_at
                    + Duration::days(*days_later)
                    + Duration::minutes(i64::try_from(n).unwrap_or(0));
                let branch = till.branches
                    [usize::try_from(*roll).unwrap_or(0) % till.branches.len()]
                .clone();
                let reference = format!("demo-{index}-{n}");
                if *is_redemption {
                    let request = RedeemRequest {
                        branch,
                        card: card.clone(),
                        points: 1 + roll % 200,
                        reference,
                        hold: None,
                    };
                    match ledger::redeem(conn, settings, &till.teller, request, at).await {
                        Ok(_) | Err(LedgerError::InsufficientPoints { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    let (low, high) = till.bill;
                    let amount_minor = low + (high - low) / 1_000 * roll;
                    let request = EarnRequest {
                        branch,
                        card: card.clone(),
                        amount_minor,
                        currency: "IRR".into(),
                        reference,
                        release_at: None,
                    };
                    ledger::earn(conn, settings, &till.teller, request, at).await?;
                }
            }
            Ok(())
        })
        .await?;
        if (index + 1) % 100 == 0 {
            on_progress(index + 1);
        }
    }
    Ok(count)
}

fn toml_from_str<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    use figment::providers::{Format as _, Toml};
    Ok(figment::Figment::new()
        .merge(Toml::string(text))
        .extract()
        .map_err(Box::new)?)
}
