//! `clubgate partners`, `branches` and `rules`: onboarding partners, opening branches,
//! setting point rules.

use anyhow::Context as _;
use clap::Subcommand;
use domain::partners::{NewBranch, NewPartner, PartnerKind};
use domain::pricing::PointRule;
use operations::{keys, partners, pricing};
use storage::Storage;

#[derive(Subcommand)]
pub(super) enum PartnersCommand {
    /// Register a partner.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// hotel, tour_agency, restaurant, retail or other.
        #[arg(long)]
        kind: PartnerKind,
    },
    /// List partners.
    List,
    /// Show a partner with its branches and keys.
    Show { code: String },
}

#[derive(Subcommand)]
pub(super) enum BranchesCommand {
    /// Open a branch for a partner.
    Add {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        city: Option<String>,
    },
}

#[derive(Subcommand)]
pub(super) enum RulesCommand {
    /// Set how a partner (or one branch) turns money into points and points into a discount.
    Set {
        #[arg(long)]
        partner: String,
        /// Override for one branch only.
        #[arg(long)]
        branch: Option<String>,
        #[arg(long, default_value = "IRR")]
        currency: String,
        /// Points earned per --per-amount (minor units) spent, rounded down.
        #[arg(long)]
        earn_points: i64,
        #[arg(long)]
        per_amount: i64,
        /// What one point takes off a bill, in minor units.
        #[arg(long)]
        point_value: i64,
    },
}

/// `clubgate partners …`.
pub(super) async fn partners(storage: &Storage, command: PartnersCommand) -> anyhow::Result<()> {
    match command {
        PartnersCommand::Add { code, name, kind } => {
            let partner = partners::add(storage, NewPartner::parse(&code, &name, kind)?).await?;
            println!("added partner {} ({})", partner.code, partner.id);
        }
        PartnersCommand::List => {
            for p in partners::list(storage).await? {
                println!(
                    "{:<24} {:<12} {:<10} {}",
                    p.code.as_str(),
                    p.kind.as_str(),
                    p.status.as_str(),
                    p.name
                );
            }
        }
        PartnersCommand::Show { code } => {
            let profile = partners::show(storage, &code).await?;
            let p = &profile.partner;
            println!("{} ({}, {})", p.name, p.code, p.kind.as_str());
            println!("  id:      {}", p.id);
            println!("  status:  {}", p.status.as_str());
            println!("  branches:");
            for b in &profile.branches {
                println!(
                    "    {:<16} {} ({})",
                    b.code.as_str(),
                    b.name,
                    b.city.as_deref().unwrap_or("-")
                );
            }
            println!("  keys:");
            for k in keys::list(storage, &code).await? {
                println!("    {:<24} {}", k.kid, k.status.as_str());
            }
        }
    }
    Ok(())
}

/// `clubgate branches …`.
pub(super) async fn branches(storage: &Storage, command: BranchesCommand) -> anyhow::Result<()> {
    let BranchesCommand::Add {
        partner,
        code,
        name,
        city,
    } = command;
    let branch = partners::add_branch(
        storage,
        &partner,
        NewBranch::parse(&code, &name, city.as_deref())?,
    )
    .await?;
    println!("opened branch {partner}/{} ({})", branch.code, branch.id);
    Ok(())
}

/// `clubgate rules …`.
pub(super) async fn rules(storage: &Storage, command: RulesCommand) -> anyhow::Result<()> {
    let RulesCommand::Set {
        partner,
        branch,
        currency,
        earn_points,
        per_amount,
        point_value,
    } = command;
    let rule = PointRule::new(&currency, earn_points, per_amount, point_value)?;
    let profile = partners::show(storage, &partner).await?;
    let branch_id = match &branch {
        None => None,
        Some(code) => Some(
            profile
                .branches
                .iter()
                .find(|b| b.code.as_str() == code)
                .with_context(|| format!("{partner} has no branch {code}"))?
                .id,
        ),
    };
    pricing::set_rule(storage, profile.partner.id, branch_id, &rule).await?;
    let scope = branch.map(|b| format!("{partner}/{b}")).unwrap_or(partner);
    let step = domain::points::Money::new(per_amount, rule.currency);
    let value = domain::points::Money::new(point_value, rule.currency);
    println!("{scope}: {earn_points} points per {step}; a point is worth {value}");
    Ok(())
}
