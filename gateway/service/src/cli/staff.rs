//! `clubgate staff`: the accounts that sign in to the pages (docs/staff.md).

use chrono::Utc;
use clap::Subcommand;
use domain::staff::{StaffRole, StaffScope, random_password};
use operations::staff::{self, NewStaff};
use storage::Storage;

#[derive(Subcommand)]
pub(super) enum StaffCommand {
    /// Add an account; its first password is printed once (or read from CLUBGATE_STAFF_PASSWORD).
    Add {
        /// What they sign in with (lowercase letters, digits, '.', '_', '-', '@').
        login: String,
        #[arg(long)]
        name: String,
        /// operator_admin, operator_finance, operator_marketing, operator_support, partner_admin,
        /// partner_finance, branch_manager or cashier.
        #[arg(long, value_parser = StaffRole::parse)]
        role: StaffRole,
        /// The partner's code, for a partner's staff.
        #[arg(long)]
        partner: Option<String>,
        /// A branch's code at --partner (repeat it), for a cashier or a branch manager.
        #[arg(long = "branch")]
        branches: Vec<String>,
    },
    /// Every account, with its role, scope and status.
    List,
    /// Stop an account signing in (accounts are never deleted).
    Disable { login: String },
    /// Give an account a new password, printed once (or read from CLUBGATE_STAFF_PASSWORD).
    ResetPassword { login: String },
    /// Make an account sign in with a code from an authenticator app as well: prints the
    /// app's otpauth:// address once (a new secret each time).
    Totp { login: String },
}

/// The password to set: `CLUBGATE_STAFF_PASSWORD`, or a random one to print.
fn password() -> (String, bool) {
    match std::env::var("CLUBGATE_STAFF_PASSWORD") {
        Ok(given) if !given.is_empty() => (given, false),
        _ => (random_password(), true),
    }
}

/// The command line as the audit log records it: `cli:` and the machine user, from the host.
pub(super) fn actor() -> (String, String) {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    (super::program::author(), format!("host {host}"))
}

/// `clubgate audit`: the latest entries of the audit log.
pub(super) async fn audit(storage: &Storage, limit: i64) -> anyhow::Result<()> {
    let entries = staff::audit_log(storage, limit).await?;
    if entries.is_empty() {
        println!("the audit log is empty");
    }
    for e in entries {
        println!(
            "{}  {:<24} {:<20} {:<22} {}  {}",
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            e.actor,
            e.from_where,
            e.action,
            e.subject,
            e.detail
        );
    }
    Ok(())
}

/// `clubgate staff …`.
pub(super) async fn staff(
    storage: &Storage,
    keys: &domain::member_data::MemberDataKeys,
    command: StaffCommand,
) -> anyhow::Result<()> {
    let (name, from) = actor();
    let by = staff::Actor {
        name: &name,
        from: &from,
    };
    match command {
        StaffCommand::Add {
            login,
            name,
            role,
            partner,
            branches,
        } => {
            let (password, generated) = password();
            let new = NewStaff {
                login: &login,
                name: &name,
                role,
                partner: partner.as_deref(),
                branches: &branches,
            };
            let added = staff::add(storage, new, &password, by, Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("staff {login}: {e}"))?;
            println!("added {} ({}) as {}", added.login, added.name, added.role);
            if generated {
                println!("  password (shown once): {password}");
            }
        }
        StaffCommand::List => {
            let all = staff::list(storage).await?;
            if all.is_empty() {
                println!("no staff accounts yet (clubgate staff add LOGIN --name … --role …)");
            }
            for member in all {
                let scope = match &member.scope {
                    StaffScope::Operator => "operator".to_owned(),
                    StaffScope::Partner(id) => format!("partner {id}"),
                    StaffScope::Branches(id, branches) => {
                        format!("partner {id}, {} branch(es)", branches.len())
                    }
                };
                println!(
                    "{:<32} {:<20} {:<9} {scope}  {}",
                    member.login,
                    member.role.as_str(),
                    member.status.to_string(),
                    member.name
                );
            }
        }
        StaffCommand::Disable { login } => {
            staff::disable(storage, &login, by, Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("staff {login}: {e}"))?;
            println!("disabled {login}");
        }
        StaffCommand::ResetPassword { login } => {
            let (password, generated) = password();
            staff::reset_password(storage, &login, &password, by, Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("staff {login}: {e}"))?;
            println!("new password set for {login}");
            if generated {
                println!("  password (shown once): {password}");
            }
        }
        StaffCommand::Totp { login } => {
            let address = staff::enable_totp(storage, keys, &login, by, Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("staff {login}: {e}"))?;
            println!("{login} now signs in with an authenticator code as well");
            println!("  add to the authenticator app (shown once): {address}");
        }
    }
    Ok(())
}
