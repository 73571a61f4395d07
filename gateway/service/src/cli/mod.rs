//! The `clubgate` command: serve, migrate, and the operator's commands, one file per
//! command group. Operators onboard partners, open branches, rotate keys, settle
//! and reconcile here without touching SQL. Every command but `keys generate`
//! reads the configuration (`--config` or `CLUBGATE_CONFIG`) to reach the database.
//! Amounts are printed as people read them (the currency's decimals, grouped
//! digits); `--json` output, where a command has it, stays exact.

mod backup;
mod cards;
mod demo;
mod keys;
mod ledger;
mod partners;
mod program;
mod settlement;
mod staff;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use operations::Club;
use secrecy::ExposeSecret as _;
use storage::{Storage, migrations};

use crate::config::Config;
use crate::state::{club_settings, storage_settings};

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
        command: partners::PartnersCommand,
    },
    /// Branches of a partner.
    Branches {
        #[command(subcommand)]
        command: partners::BranchesCommand,
    },
    /// Ed25519 keys: generate key files, register, list and revoke partner keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// The demo network.
    Demo {
        #[command(subcommand)]
        command: demo::DemoCommand,
    },
    /// Prove the ledger exact: recompute every balance from the transfers and check every invariant.
    Check,
    /// The restore drill's two ends: a restore point with the ledger as it stood there, and
    /// the comparison of a restored copy with it (scripts/backup.sh drill runs both).
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Run ledger maintenance now: void expired holds, release due pending earns, expire lots.
    Maintain,
    /// The programme's rules: categories, tiers, earn rules, bonuses, campaigns (versioned).
    Program {
        #[command(subcommand)]
        command: program::ProgramCommand,
    },
    /// Staff accounts for the pages: add, list, disable, reset a password.
    Staff {
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// The latest entries of the audit log: what staff changed, who, when, from where.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Point rules of partners and branches.
    Rules {
        #[command(subcommand)]
        command: partners::RulesCommand,
    },
    /// Club cards: block, unblock, replace a lost card.
    Cards {
        #[command(subcommand)]
        command: cards::CardsCommand,
    },
    /// Partner settlement terms: price per point issued, reimbursement per point redeemed, period.
    Terms {
        #[command(subcommand)]
        command: settlement::TermsCommand,
    },
    /// Operator keys (finance and admin staff), each bound to a role.
    Operators {
        #[command(subcommand)]
        command: keys::OperatorsCommand,
    },
    /// Close every settlement period whose cut-off (plus the grace) has passed: signed statements.
    Settle,
    /// Settlement statements: list, export a proof, check them against the ledger.
    Statements {
        #[command(subcommand)]
        command: settlement::StatementsCommand,
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
    Storage::connect(&storage_settings(config))
        .await
        .context("cannot connect to storage")
}

/// Writes a new file (never overwriting one) readable as `mode` says.
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keys { command } = &cli.command
        && let Some(written) = keys::files(command)
    {
        return written;
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
            partners::partners(&storage(&config).await?, command).await?;
        }
        Command::Branches { command } => {
            partners::branches(&storage(&config).await?, command).await?;
        }
        Command::Rules { command } => partners::rules(&storage(&config).await?, command).await?,
        Command::Staff { command } => {
            staff::staff(&storage(&config).await?, &config.member_data_keys, command).await?
        }
        Command::Audit { limit } => staff::audit(&storage(&config).await?, limit).await?,
        Command::Program { command } => {
            let club = (config.program.time_zone, &config.member_data_keys);
            program::program(&storage(&config).await?, club, command).await?
        }
        Command::Keys { command } => {
            let ttl = config.protocol.key_cache_ttl.as_secs();
            keys::partner_keys(
                &storage(&config).await?,
                &config.keys.reserved(),
                ttl,
                command,
            )
            .await?;
        }
        Command::Operators { command } => {
            keys::operators(&storage(&config).await?, &config.keys.reserved(), command).await?;
        }
        Command::Demo { command } => {
            let club = Club::start(storage(&config).await?, club_settings(&config));
            demo::demo(&club, command).await?;
        }
        Command::Check => ledger::check(&storage(&config).await?, &config.program).await?,
        Command::Backup { command } => backup::backup(&storage(&config).await?, command).await?,
        Command::Maintain => ledger::maintain(&storage(&config).await?, &config.program).await?,
        Command::Cards { command } => {
            cards::cards(&storage(&config).await?, &config.program, command).await?;
        }
        Command::Terms { command } => settlement::terms(&storage(&config).await?, command).await?,
        Command::Settle => settlement::settle(&storage(&config).await?, &config).await?,
        Command::Statements { command } => {
            settlement::statements(&storage(&config).await?, &config, command).await?;
        }
        Command::Reconcile {
            partner,
            window,
            csv,
            file,
        } => {
            let (from, to) = window.resolve();
            let storage = storage(&config).await?;
            settlement::reconcile_file(&storage, &partner, from, to, &file, csv.as_deref()).await?;
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
    use ::partners::jwk::{DEVELOPMENT_KEY_NOTE, Jwk};

    use super::keys::generate_key;

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
