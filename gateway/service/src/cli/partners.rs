//! `clubgate partners`, `branches` and `rules`: onboarding partners, opening branches,
//! setting point rules.

use ::partners::amounts::group;
use anyhow::Context as _;
use clap::Subcommand;
use domain::partners::{NewBranch, NewPartner, PartnerKind};
use domain::points::Points;
use domain::pricing::PointRule;
use domain::program::LimitOverrides;
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
    /// Set a partner's own bounds on one operation, over the programme's
    /// (`program.max_purchase_minor`, `program.max_points_per_operation`).
    Limits {
        code: String,
        /// The largest purchase one earn may report, in minor units, or `program`.
        #[arg(long)]
        max_purchase_minor: Option<Limit>,
        /// The most points one earn or redemption may move, or `program`.
        #[arg(long)]
        max_points: Option<Limit>,
    },
}

/// A limit given on the command line: a number above zero, or `program` for the programme's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    Program,
    Own(i64),
}

impl std::str::FromStr for Limit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "program" => Ok(Self::Program),
            _ => match text.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Self::Own(n)),
                _ => Err(format!(
                    "{text:?} is neither a number above zero nor `program`"
                )),
            },
        }
    }
}

impl Limit {
    /// The override this sets, or `current` if the flag was not given.
    fn apply(given: Option<Self>, current: Option<i64>) -> Option<i64> {
        match given {
            None => current,
            Some(Self::Program) => None,
            Some(Self::Own(n)) => Some(n),
        }
    }
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
            print_limits(&p.limits);
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
        PartnersCommand::Limits {
            code,
            max_purchase_minor,
            max_points,
        } => {
            let current = partners::show(storage, &code).await?.partner.limits;
            let limits = LimitOverrides::new(
                Limit::apply(max_purchase_minor, current.max_purchase_minor),
                Limit::apply(max_points, current.max_points.map(|max| max.0)).map(Points),
            )?;
            let partner = partners::set_limits(storage, &code, limits).await?;
            println!("{code}: limits set (requests see them within 10 seconds)");
            print_limits(&partner.limits);
        }
    }
    Ok(())
}

/// A partner's own limits, or that it takes the programme's.
fn print_limits(limits: &LimitOverrides) {
    let own = |limit: Option<String>| limit.unwrap_or_else(|| "the programme's".to_owned());
    println!(
        "  largest purchase:   {}",
        own(limits
            .max_purchase_minor
            .map(|max| format!("{} (minor units)", group(max))))
    );
    println!(
        "  most points per op: {}",
        own(limits.max_points.map(|max| group(max.0)))
    );
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

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn a_limit_is_a_number_above_zero_or_the_programmes() {
        assert!(matches!("program".parse(), Ok(Limit::Program)));
        assert!(matches!("5000".parse(), Ok(Limit::Own(5000))));
        for refused in ["0", "-1", "1.5", "", "Program", "1e6"] {
            assert!(refused.parse::<Limit>().is_err(), "{refused:?}");
        }
        assert_eq!(Limit::apply(None, Some(7)), Some(7), "not given: unchanged");
        assert_eq!(Limit::apply(Some(Limit::Program), Some(7)), None);
        assert_eq!(Limit::apply(Some(Limit::Own(9)), None), Some(9));
    }
}
