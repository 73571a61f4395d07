//! The `clubgate` command: serve, migrate, and the operator's registry commands.
//!
//! Operators onboard partners, open branches and rotate keys here without
//! touching SQL. Every command but `keys generate` reads the configuration
//! (`--config` or `CLUBGATE_CONFIG`) to reach the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ::partners::jwk::{DEVELOPMENT_KEY_NOTE, Jwk, PrivateKey};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::domain::partner_keys;
use crate::domain::partners::{self, NewBranch, NewPartner, PartnerKind};
use crate::settlement_cli::{
    OperatorsCommand, StatementsCommand, TermsCommand, operators, reconcile_file, settle,
    statements, terms, write_partner_file,
};
use crate::storage::{Storage, migrations};

#[derive(Parser)]
#[command(name = "clubgate", version, about = "The clubgate loyalty gateway")]
struct Cli {
    /// Configuration file (TOML); e.g. gateway/config/development.toml.
    #[arg(long, env = "CLUBGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway until SIGINT/SIGTERM.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Partners of the network.
    Partners {
        #[command(subcommand)]
        command: PartnersCommand,
    },
    /// Branches of a partner.
    Branches {
        #[command(subcommand)]
        command: BranchesCommand,
    },
    /// Ed25519 keys: generate key files, register, list and revoke partner keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The demo network.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Prove the ledger exact: recompute every balance from the transfers and check every invariant.
    Check,
    /// Run ledger maintenance now: void expired holds, release due pending earns, expire lots.
    Maintain,
    /// Point rules of partners and branches.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Club cards: block, unblock, replace a lost card.
    Cards {
        #[command(subcommand)]
        command: CardsCommand,
    },
    /// Partner settlement terms: price per point issued, reimbursement per point redeemed, period.
    Terms {
        #[command(subcommand)]
        command: TermsCommand,
    },
    /// Operator keys (finance and admin staff), each bound to a role.
    Operators {
        #[command(subcommand)]
        command: OperatorsCommand,
    },
    /// Close every settlement period whose cut-off (plus the grace) has passed: signed statements.
    Settle,
    /// Settlement statements: list, export a proof, check them against the ledger.
    Statements {
        #[command(subcommand)]
        command: StatementsCommand,
    },
    /// Reconcile a partner's own transaction file (CSV: reference,type,points,amount,time).
    Reconcile {
        #[arg(long)]
        partner: String,
        #[command(flatten)]
        window: Window,
        /// Also write the exceptions as CSV here.
        #[arg(long)]
        csv: Option<PathBuf>,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
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

#[derive(Subcommand)]
enum CardsCommand {
    /// Block a card; its member keeps their points.
    Block { number: String },
    /// Unblock a blocked card.
    Unblock { number: String },
    /// Mark a card lost and issue a replacement that keeps the member's points and history.
    Replace { number: String },
}

#[derive(Subcommand)]
enum PartnersCommand {
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
enum BranchesCommand {
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
enum KeysCommand {
    /// Write a new member-data encryption key (an "oct" JWK) for MEMBER_DATA_KEY_FILE.
    GenerateMemberKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a new Ed25519 key pair: OUT.jwk (private) and OUT.pub.jwk (public).
    Generate {
        /// The key id (letters, digits, '.', '_', '-').
        #[arg(long)]
        kid: String,
        /// Path prefix of the two files.
        #[arg(long)]
        out: PathBuf,
        /// Mark the key as a development key inside the files.
        #[arg(long)]
        development: bool,
    },
    /// Register a partner's public key (a .pub.jwk file).
    Register {
        #[arg(long)]
        partner: String,
        file: PathBuf,
    },
    /// Revoke a key for good.
    Revoke { kid: String },
    /// List a partner's keys.
    List {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Load the demo partners, branches, keys, rules and members (idempotent).
    Load {
        #[arg(long, default_value = "keys/dev/network.toml")]
        file: PathBuf,
        /// Demo members to enrol, with a year of history (only into an empty member table).
        #[arg(long, default_value_t = 1000)]
        members: u64,
    },
    /// Write a partner's own transaction file from the ledger, with seeded differences
    /// of every class a reconciliation reports (for the walkthrough and the benchmark).
    PartnerFile {
        #[arg(long)]
        partner: String,
        #[command(flatten)]
        window: Window,
        /// Seeds of each class (fewer if the ledger has too few transfers).
        #[arg(long, default_value_t = 2)]
        seeds: usize,
        out: PathBuf,
    },
}

/// A reconciliation window: the partner's whole history up to now unless given.
#[derive(clap::Args)]
struct Window {
    /// Window start (RFC 3339); the partner's first transfer if absent.
    #[arg(long)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Window end, exclusive (RFC 3339); now if absent.
    #[arg(long)]
    to: Option<chrono::DateTime<chrono::Utc>>,
}

impl Window {
    fn resolve(&self) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        (
            self.from.unwrap_or(chrono::DateTime::UNIX_EPOCH),
            self.to.unwrap_or_else(chrono::Utc::now),
        )
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let path = path.context(
        "no configuration: pass --config FILE or set CLUBGATE_CONFIG \
         (for development: gateway/config/development.toml)",
    )?;
    Ok(Config::load(path)?)
}

async fn storage(config: &Config) -> anyhow::Result<Storage> {
    Storage::connect(&crate::app::storage_settings(config))
        .await
        .context("cannot connect to storage")
}

fn write_new(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

fn generate_key(kid: &str, out: &Path, is_development: bool) -> anyhow::Result<()> {
    let key = PrivateKey::generate(kid)?;
    let note = is_development.then(|| DEVELOPMENT_KEY_NOTE.to_owned());
    let private = Jwk {
        note: note.clone(),
        ..key.to_jwk()
    };
    let public = Jwk {
        note,
        ..key.public_key().to_jwk()
    };
    let private_path = out.with_extension("jwk");
    let public_path = out.with_extension("pub.jwk");
    write_new(
        &private_path,
        &(serde_json::to_string_pretty(&private)? + "\n"),
        0o600,
    )?;
    write_new(
        &public_path,
        &(serde_json::to_string_pretty(&public)? + "\n"),
        0o644,
    )?;
    println!("wrote {} (private, keep it secret)", private_path.display());
    println!(
        "wrote {} (public, give it to the gateway operator)",
        public_path.display()
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keys {
        command:
            KeysCommand::Generate {
                kid,
                out,
                development,
            },
    } = &cli.command
    {
        return generate_key(kid, out, *development);
    }
    if let Command::Keys {
        command: KeysCommand::GenerateMemberKey { out },
    } = &cli.command
    {
        let jwk = serde_json::json!({ "kty": "oct", "k": crate::domain::member_data::MemberDataKeys::generate_master() });
        write_new(out, &(serde_json::to_string_pretty(&jwk)? + "\n"), 0o600)?;
        println!(
            "wrote {} (keep it secret and backed up: member data cannot be read without it)",
            out.display()
        );
        return Ok(());
    }
    let config = load_config(cli.config.as_deref())?;
    // Operator commands print their own results; their logs only say what went wrong.
    let log = match cli.command {
        Command::Serve | Command::Migrate => config.log.clone(),
        _ => crate::config::LogConfig {
            filter: "warn".into(),
            ..config.log.clone()
        },
    };
    crate::telemetry::init(&log);
    match cli.command {
        Command::Serve => crate::run(&config).await?,
        Command::Migrate => {
            let applied = migrations::run_pending(config.database_url.expose_secret()).await?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for version in applied {
                println!("applied {version}");
            }
        }
        Command::Partners { command } => {
            let storage = storage(&config).await?;
            match command {
                PartnersCommand::Add { code, name, kind } => {
                    let partner =
                        partners::add(&storage, NewPartner::parse(&code, &name, kind)?).await?;
                    println!("added partner {} ({})", partner.code, partner.id);
                }
                PartnersCommand::List => {
                    for p in partners::list(&storage).await? {
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
                    let profile = partners::show(&storage, &code).await?;
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
                    for k in partner_keys::list(&storage, &code).await? {
                        println!("    {:<24} {}", k.kid, k.status.as_str());
                    }
                }
            }
        }
        Command::Branches {
            command:
                BranchesCommand::Add {
                    partner,
                    code,
                    name,
                    city,
                },
        } => {
            let storage = storage(&config).await?;
            let branch = partners::add_branch(
                &storage,
                &partner,
                NewBranch::parse(&code, &name, city.as_deref())?,
            )
            .await?;
            println!("opened branch {partner}/{} ({})", branch.code, branch.id);
        }
        Command::Keys { command } => {
            let storage = storage(&config).await?;
            match command {
                KeysCommand::Generate { .. } | KeysCommand::GenerateMemberKey { .. } => {
                    unreachable!("handled before loading configuration")
                }
                KeysCommand::Register { partner, file } => {
                    let jwk = Jwk::read(&file)?;
                    anyhow::ensure!(
                        !jwk.is_private(),
                        "{} holds a private key: register the partner's public key (.pub.jwk) only",
                        file.display()
                    );
                    let key =
                        partner_keys::register_for_code(&storage, &partner, &jwk.public_key()?)
                            .await?;
                    println!("registered key {} for {partner}", key.kid);
                }
                KeysCommand::Revoke { kid } => {
                    let key = partner_keys::revoke(&storage, &kid).await?;
                    println!(
                        "revoked key {} (requests signed with it are refused within the key cache TTL, {} s)",
                        key.kid,
                        config.protocol.key_cache_ttl.as_secs()
                    );
                }
                KeysCommand::List { partner } => {
                    for k in partner_keys::list(&storage, &partner).await? {
                        let revoked = k
                            .revoked_at
                            .map(|t| format!(" revoked {t}"))
                            .unwrap_or_default();
                        println!(
                            "{:<24} {:<8} created {}{revoked}",
                            k.kid,
                            k.status.as_str(),
                            k.created_at
                        );
                    }
                }
            }
        }
        Command::Demo {
            command: DemoCommand::Load { file, members },
        } => {
            let storage = storage(&config).await?;
            let created = crate::demo::load(&storage, &file).await?;
            if created.is_empty() {
                println!("demo partners already loaded");
            }
            for line in created {
                println!("created {line}");
            }
            let enrolled = crate::demo::load_members(
                &storage,
                &config.program,
                &config.member_data_keys,
                members,
                |done| {
                    eprintln!("  demo members: {done} of {members}");
                },
            )
            .await?;
            if enrolled == 0 {
                println!("demo members already loaded");
            } else {
                println!("enrolled {enrolled} demo members with history; cards:");
                for index in 0..enrolled.min(5) {
                    println!("  {}", crate::demo::demo_card(&config.program, index));
                }
            }
        }
        Command::Demo {
            command:
                DemoCommand::PartnerFile {
                    partner,
                    window,
                    seeds,
                    out,
                },
        } => {
            let storage = storage(&config).await?;
            let (from, to) = window.resolve();
            write_partner_file(&storage, &partner, from, to, seeds, &out).await?;
        }
        Command::Check => {
            let storage = storage(&config).await?;
            let report = crate::domain::ledger::check::check(&storage).await?;
            println!(
                "checked {} accounts and {} transfers",
                report.accounts, report.transfers
            );
            if !report.is_exact() {
                for violation in &report.violations {
                    println!("VIOLATION: {violation}");
                }
                anyhow::bail!(
                    "the ledger is not exact: {} violations",
                    report.violations.len()
                );
            }
            println!(
                "the ledger is exact: every balance matches its transfers, all balances sum to zero"
            );
        }
        Command::Maintain => {
            let storage = storage(&config).await?;
            let report = crate::domain::ledger::run_maintenance(
                &storage,
                &config.program,
                chrono::Utc::now(),
            )
            .await?;
            println!(
                "{} holds expired, {} pending earns released, {} points expired",
                report.holds_expired, report.earns_released, report.points_expired
            );
        }
        Command::Rules {
            command:
                RulesCommand::Set {
                    partner,
                    branch,
                    currency,
                    earn_points,
                    per_amount,
                    point_value,
                },
        } => {
            let storage = storage(&config).await?;
            let rule = crate::domain::rules::PointRule::new(
                &currency,
                earn_points,
                per_amount,
                point_value,
            )?;
            let profile = partners::show(&storage, &partner).await?;
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
            crate::domain::rules::set(&storage, profile.partner.id, branch_id, &rule).await?;
            let scope = branch.map(|b| format!("{partner}/{b}")).unwrap_or(partner);
            println!(
                "{scope}: {earn_points} points per {per_amount} {currency} minor units; a point is worth {point_value}"
            );
        }
        Command::Terms { command } => terms(&storage(&config).await?, command).await?,
        Command::Operators { command } => operators(&storage(&config).await?, command).await?,
        Command::Settle => settle(&storage(&config).await?, &config).await?,
        Command::Statements { command } => {
            statements(&storage(&config).await?, &config, command).await?;
        }
        Command::Reconcile {
            partner,
            window,
            csv,
            file,
        } => {
            let storage = storage(&config).await?;
            let (from, to) = window.resolve();
            reconcile_file(&storage, &partner, from, to, &file, csv.as_deref()).await?;
        }
        Command::Cards { command } => {
            let storage = storage(&config).await?;
            let parse = |n: &str| {
                crate::domain::cards::CardNumber::parse(n).map_err(|e| anyhow::anyhow!("{n}: {e}"))
            };
            match command {
                CardsCommand::Block { number } => {
                    crate::domain::members::block_card(&storage, &parse(&number)?).await?;
                    println!("blocked card {number}");
                }
                CardsCommand::Unblock { number } => {
                    crate::domain::members::unblock_card(&storage, &parse(&number)?).await?;
                    println!("unblocked card {number}");
                }
                CardsCommand::Replace { number } => {
                    let replacement = crate::domain::members::replace_lost_card(
                        &storage,
                        &config.program,
                        &parse(&number)?,
                        chrono::Utc::now(),
                    )
                    .await?;
                    println!(
                        "card {number} marked lost; replacement card {replacement} keeps the balance and history"
                    );
                }
            }
        }
    }
    Ok(())
}

/// Runs the command line; errors are printed with their causes.
pub async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_files_pair_up_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir =
            std::env::temp_dir().join(format!("clubgate-keygen-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("acme");
        generate_key("acme-2027", &out, true).unwrap();

        let private = Jwk::read(&dir.join("acme.jwk")).unwrap();
        let public = Jwk::read(&dir.join("acme.pub.jwk")).unwrap();
        assert_eq!(
            private.private_key().unwrap().public_key(),
            public.public_key().unwrap()
        );
        assert!(!public.is_private());
        assert_eq!(public.note.as_deref(), Some(DEVELOPMENT_KEY_NOTE));
        let mode = std::fs::metadata(dir.join("acme.jwk"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key file must not be readable by others"
        );

        assert!(
            generate_key("acme-2027", &out, false).is_err(),
            "existing files are never overwritten"
        );
        assert_eq!(Jwk::read(&dir.join("acme.jwk")).unwrap(), private);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
