//! The operator's settlement commands: `terms`, `settle`, `statements` and
//! `reconcile` (see `docs/settlement.md`).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use domain::ids::StatementId;
use domain::points::{Currency, Money};
use domain::settlement::reconcile::exceptions_csv;
use domain::settlement::terms::{self, NewTerms, PeriodKind};
use operations::settlement::statements::{self, StatementRecord};
use operations::settlement::{close, reconcile, terms as settlement_terms};
use partners::amounts::group;
use storage::Storage;
use storage::settlement::StatementFilter;

use crate::config::Config;

#[derive(Subcommand)]
pub(super) enum TermsCommand {
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
pub(super) enum StatementsCommand {
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

/// A statement's net as people read it (its currency's decimals, grouped digits).
fn net(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => Money::new(minor, currency).to_string(),
        Err(_) => format!("{} {currency}", group(minor)),
    }
}

fn print_statements(records: &[StatementRecord]) {
    for r in records {
        let currency = r.statement().map(|s| s.currency).unwrap_or_default();
        println!(
            "{}  {:<16} #{:<4} {} – {}  {:<12} net {:>22}",
            r.issued.id,
            r.partner_code,
            r.issued.sequence,
            r.issued.period_start.format("%Y-%m-%d %H:%M"),
            r.issued.period_end.format("%Y-%m-%d %H:%M"),
            r.status().as_str(),
            net(r.issued.net_minor, &currency),
        );
    }
}

/// `clubgate terms …`.
pub(super) async fn terms(storage: &Storage, command: TermsCommand) -> anyhow::Result<()> {
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
                currency: Currency::parse(&currency)?,
                price_per_point: terms::parse_rate("--price", &price)?,
                reimbursement_per_point: terms::parse_rate("--reimbursement", &reimbursement)?,
                period: PeriodKind::parse(&period)?,
                time_zone: terms::parse_zone(&time_zone)?,
                starts_on,
            };
            let t = settlement_terms::set(storage, &partner, new, Utc::now()).await?;
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
            for t in settlement_terms::list(storage, &partner).await? {
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

/// `clubgate settle`.
pub(super) async fn settle(storage: &Storage, config: &Config) -> anyhow::Result<()> {
    let settled =
        close::settle(storage, &config.keys.current, config.settlement, Utc::now()).await?;
    if settled.closed.is_empty() && settled.stuck.is_empty() {
        println!(
            "no period is due (a period closes {} s after its cut-off)",
            config.settlement.grace.num_seconds()
        );
    }
    for c in settled.closed {
        println!(
            "{:<16} #{:<4} {} – {}  {:>8} lines  net {:>22}  ({})",
            c.partner_code,
            c.sequence,
            c.period_start.format("%Y-%m-%d %H:%M"),
            c.period_end.format("%Y-%m-%d %H:%M"),
            group(c.lines),
            net(c.net_minor, &c.currency),
            c.id
        );
    }
    for stuck in &settled.stuck {
        eprintln!(
            "{:<16} not closed: {} ({})",
            stuck.partner_code, stuck.detail, stuck.code
        );
    }
    if !settled.stuck.is_empty() {
        anyhow::bail!(
            "{} partner(s) have a period that cannot be closed",
            settled.stuck.len()
        );
    }
    Ok(())
}

/// `clubgate statements …`.
pub(super) async fn statements(
    storage: &Storage,
    config: &Config,
    command: StatementsCommand,
) -> anyhow::Result<()> {
    match command {
        StatementsCommand::List { partner } => {
            let partner_id = match partner {
                Some(code) => Some(operations::partners::id_of(storage, &code).await?),
                None => None,
            };
            let filter = StatementFilter {
                partner_id,
                limit: i64::MAX,
                ..StatementFilter::default()
            };
            print_statements(&statements::list(storage, &filter).await?);
        }
        StatementsCommand::Proof { id, out } => {
            let proof = statements::proof(storage, &config.keys.published, StatementId(id)).await?;
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
            let mismatches = statements::check(storage).await?;
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
pub(super) async fn reconcile_file(
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
        group(i64::try_from(report.rows).unwrap_or(i64::MAX)),
        group(i64::try_from(report.ledger_transfers).unwrap_or(i64::MAX)),
        started.elapsed().as_secs_f64()
    );
    for t in &report.totals {
        eprintln!(
            "  {:<20} {:>11}   points {:>15} / {:<15} amount (minor units) {:>20} / {}",
            t.status,
            group(t.count),
            group(t.partner_points),
            group(t.gateway_points),
            group(t.partner_amount_minor),
            group(t.gateway_amount_minor)
        );
    }
    if let Some(path) = csv_out {
        std::fs::write(path, exceptions_csv(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the exceptions to {}", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
