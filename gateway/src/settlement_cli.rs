//! The operator's settlement commands: `terms`, `operators`, `settle`,
//! `statements` and `reconcile` (see `docs/settlement.md`).

use std::path::PathBuf;

use ::partners::jwk::Jwk;
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;

use crate::config::Config;
use crate::domain::operators::{self, OperatorRole};
use crate::domain::settlement::terms::{self, NewTerms, PeriodKind};
use crate::domain::settlement::{self, close, reconcile};
use crate::storage::Storage;
use crate::storage::settlement::StatementFilter;

#[derive(Subcommand)]
pub enum TermsCommand {
    /// Set a partner's next terms version (the first starts on --starts-on; later ones with the next period).
    Set {
        #[arg(long)]
        partner: String,
        /// Minor units the partner pays per point issued (a plain decimal, e.g. 12.5).
        #[arg(long)]
        price: String,
        /// Minor units the partner is paid per point redeemed.
        #[arg(long)]
        reimbursement: String,
        #[arg(long, default_value = "IRR")]
        currency: String,
        /// daily, weekly (ISO, from Monday) or monthly.
        #[arg(long, default_value = "daily")]
        period: String,
        #[arg(long, default_value = "Asia/Tehran")]
        time_zone: String,
        /// First version only: the local date settlement starts (default: today).
        #[arg(long)]
        starts_on: Option<NaiveDate>,
    },
    /// List a partner's terms versions.
    List {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Subcommand)]
pub enum OperatorsCommand {
    /// Register an operator's public key (a .pub.jwk file) with a role.
    Add {
        #[arg(long)]
        name: String,
        /// admin or finance.
        #[arg(long)]
        role: OperatorRole,
        file: PathBuf,
    },
    /// List operator keys.
    List,
    /// Revoke an operator key for good.
    Revoke { kid: String },
}

#[derive(Subcommand)]
pub enum StatementsCommand {
    /// List statements.
    List {
        #[arg(long)]
        partner: Option<String>,
    },
    /// Export what a statement's parties agreed, for a third party: the signed statement, its
    /// lines file, the partner's signed answer and the keys that verify both.
    Proof {
        /// The statement id.
        id: uuid::Uuid,
        /// Where to write the proof (JSON); standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rebuild every statement from the ledger and compare the bytes with what was signed.
    Check,
}

fn print_statements(records: &[settlement::StatementRecord]) {
    for r in records {
        println!(
            "{}  {:<16} #{:<4} {} – {}  {:<12} net {:>14} {}",
            r.row.id,
            r.partner_code,
            r.row.sequence,
            r.row.period_start.format("%Y-%m-%d %H:%M"),
            r.row.period_end.format("%Y-%m-%d %H:%M"),
            r.status().as_str(),
            r.row.net_minor,
            r.statement().map(|s| s.currency).unwrap_or_default(),
        );
    }
}

pub async fn terms(storage: &Storage, command: TermsCommand) -> anyhow::Result<()> {
    match command {
        TermsCommand::Set {
            partner,
            price,
            reimbursement,
            currency,
            period,
            time_zone,
            starts_on,
        } => {
            let new = NewTerms {
                currency,
                price_per_point: terms::parse_rate("--price", &price)?,
                reimbursement_per_point: terms::parse_rate("--reimbursement", &reimbursement)?,
                period: PeriodKind::parse(&period)?,
                time_zone: terms::parse_zone(&time_zone)?,
                starts_on,
            };
            let t = settlement::set_terms(storage, &partner, new, Utc::now()).await?;
            println!(
                "{partner}: terms version {} from {} ({} {}): {} per point issued, {} per point redeemed, {} periods",
                t.version,
                t.effective_from.with_timezone(&t.time_zone),
                t.time_zone.name(),
                t.currency,
                t.price_per_point,
                t.reimbursement_per_point,
                t.period.as_str()
            );
        }
        TermsCommand::List { partner } => {
            for t in settlement::list_terms(storage, &partner).await? {
                println!(
                    "v{:<3} from {}  {} {:>12}/pt issued {:>12}/pt redeemed  {} ({})",
                    t.version,
                    t.effective_from.with_timezone(&t.time_zone),
                    t.currency,
                    t.price_per_point,
                    t.reimbursement_per_point,
                    t.period.as_str(),
                    t.time_zone.name()
                );
            }
        }
    }
    Ok(())
}

pub async fn operators(storage: &Storage, command: OperatorsCommand) -> anyhow::Result<()> {
    match command {
        OperatorsCommand::Add { name, role, file } => {
            let jwk = Jwk::read(&file)?;
            anyhow::ensure!(
                !jwk.is_private(),
                "{} holds a private key: register the public key (.pub.jwk) only",
                file.display()
            );
            let key = operators::register(storage, &name, role, &jwk.public_key()?).await?;
            println!(
                "registered operator key {} ({}, {})",
                key.kid,
                key.name,
                key.role.as_str()
            );
        }
        OperatorsCommand::List => {
            for k in operators::list(storage).await? {
                println!(
                    "{:<24} {:<8} {:<8} {}",
                    k.kid,
                    k.role.as_str(),
                    k.status.as_str(),
                    k.name
                );
            }
        }
        OperatorsCommand::Revoke { kid } => {
            let key = operators::revoke(storage, &kid).await?;
            println!("revoked operator key {}", key.kid);
        }
    }
    Ok(())
}

pub async fn settle(storage: &Storage, config: &Config) -> anyhow::Result<()> {
    let closed =
        close::settle(storage, &config.keys.current, config.settlement, Utc::now()).await?;
    if closed.is_empty() {
        println!(
            "no period is due (a period closes {} s after its cut-off)",
            config.settlement.grace.num_seconds()
        );
    }
    for c in closed {
        println!(
            "{:<16} #{:<4} {} – {}  {:>6} lines  net {:>14} {}  ({})",
            c.partner_code,
            c.sequence,
            c.period_start.format("%Y-%m-%d %H:%M"),
            c.period_end.format("%Y-%m-%d %H:%M"),
            c.lines,
            c.net_minor,
            c.currency,
            c.id
        );
    }
    Ok(())
}

pub async fn statements(
    storage: &Storage,
    config: &Config,
    command: StatementsCommand,
) -> anyhow::Result<()> {
    match command {
        StatementsCommand::List { partner } => {
            let partner_id = match partner {
                Some(code) => Some(
                    crate::domain::partners::show(storage, &code)
                        .await?
                        .partner
                        .id
                        .0,
                ),
                None => None,
            };
            let filter = StatementFilter {
                partner_id,
                limit: i64::MAX,
                ..StatementFilter::default()
            };
            print_statements(&settlement::statements(storage, &filter).await?);
        }
        StatementsCommand::Proof { id, out } => {
            let proof = settlement::proof(storage, &config.keys.published, id).await?;
            let text = serde_json::to_string_pretty(&proof)? + "\n";
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!("wrote the proof of statement {id} to {}", path.display());
                }
                None => print!("{text}"),
            }
        }
        StatementsCommand::Check => {
            let mismatches = settlement::check_statements(storage).await?;
            for m in &mismatches {
                println!("MISMATCH: {m}");
            }
            anyhow::ensure!(
                mismatches.is_empty(),
                "{} statements differ from the ledger",
                mismatches.len()
            );
            println!(
                "every statement rebuilds from the ledger to the bytes that were signed, and the chains link"
            );
        }
    }
    Ok(())
}

/// `clubgate reconcile`: streams FILE against the ledger and prints or writes the report.
pub async fn reconcile_file(
    storage: &Storage,
    partner: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    file: &std::path::Path,
    csv_out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let started = std::time::Instant::now();
    let report =
        reconcile::reconcile_partner(storage, partner, from, to, std::io::BufReader::new(reader))
            .await?;
    eprintln!(
        "reconciled {} rows against {} ledger transfers in {:.2} s",
        report.rows,
        report.ledger_transfers,
        started.elapsed().as_secs_f64()
    );
    for t in &report.totals {
        eprintln!(
            "  {:<20} {:>9}   points {:>12} / {:<12} amount {:>15} / {}",
            t.status,
            t.count,
            t.partner_points,
            t.gateway_points,
            t.partner_amount_minor,
            t.gateway_amount_minor
        );
    }
    if let Some(path) = csv_out {
        std::fs::write(path, reconcile::exceptions_csv(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the exceptions to {}", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `clubgate demo partner-file`: the partner's file from the ledger, with seeded differences.
pub async fn write_partner_file(
    storage: &Storage,
    partner: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    seeds: usize,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let entries = reconcile::ledger_entries(storage, partner, from, to).await?;
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let seeded = crate::demo::partner_file::write(&entries, seeds, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} rows for {partner} to {} ({} seeds of each class); a reconciliation must report:",
        seeded.rows,
        out.display(),
        seeded.per_class
    );
    for (status, count) in &seeded.expected {
        println!("  {status:<20} {count:>9}");
    }
    println!(
        "run: clubgate reconcile --partner {partner} --from {} --to {} {}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        out.display()
    );
    Ok(())
}
