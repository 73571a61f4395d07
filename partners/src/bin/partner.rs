//! `partner`: the partner side of clubgate from a terminal.
//!
//! Every command is a signed request whose receipt is verified before anything
//! is printed; human output by default, `--json` for scripts.
//!
//! Human output writes money in major units with grouped digits (`7,650,506.96 IRR`)
//! and points grouped (`12,345 points`) through `partners::amounts`; `--json`
//! prints the verified body as received, so scripts keep exact minor units.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use partners::amounts;
use partners::client::{Client, ClientError, ClientOptions};
use partners::jwk::{Jwk, JwkSet};
use partners::protocol::{
    Balance, BasketLine, CaptureRequest, EarnRequest, EnrollRequest, Money, Movement,
    RedeemRequest, RegisterKeyRequest, ReverseRequest,
};
use uuid::Uuid;

/// The development CA written by `make run`, trusted by default when present.
const DEV_CA: &str = ".data/tls/ca.pem";

#[derive(Parser)]
#[command(
    name = "partner",
    version,
    about = "Talk to a clubgate gateway as a partner"
)]
struct Cli {
    /// The partner's private key (RFC 8037 JWK).
    #[arg(long, env = "PARTNER_KEY", global = true)]
    key: Option<PathBuf>,
    /// The gateway's base URL.
    #[arg(
        long,
        env = "CLUBGATE_URL",
        default_value = "https://127.0.0.1:8443",
        global = true
    )]
    gateway: url::Url,
    /// A CA certificate (PEM) to trust; defaults to the development CA of `make run` when it exists.
    #[arg(long, env = "PARTNER_CA_CERT", global = true)]
    ca_cert: Option<PathBuf>,
    /// Pin the gateway's public keys (JWKS file) instead of fetching them.
    #[arg(long, env = "PARTNER_GATEWAY_JWKS", global = true)]
    gateway_jwks: Option<PathBuf>,
    /// Print the verified JSON answer instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the partner profile the gateway associates with this key.
    Whoami,
    /// Manage this partner's keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Enrol a member at a branch and issue a club card.
    Enroll {
        #[arg(long)]
        branch: String,
        /// International form, e.g. +989121234567.
        #[arg(long)]
        phone: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long)]
        birth_date: Option<chrono::NaiveDate>,
        /// The city the member lives in.
        #[arg(long)]
        city: Option<String>,
        /// The invite code of the friend who referred the member.
        #[arg(long)]
        invite_code: Option<String>,
        /// The member agrees to be sent messages (offers, news).
        #[arg(long)]
        consents_to_messages: bool,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Check a card: member, tier, balance and what it can redeem.
    Check {
        card: String,
        /// Value the redeemable points at this branch.
        #[arg(long)]
        branch: Option<String>,
    },
    /// Price a purchase and/or points at a branch (posts nothing).
    Quote {
        #[arg(long)]
        branch: String,
        /// Purchase amount in minor units.
        #[arg(long)]
        amount: Option<i64>,
        #[arg(long, default_value = "IRR")]
        currency: String,
        #[arg(long)]
        points: Option<i64>,
    },
    /// Post a purchase that earns points.
    Earn {
        #[arg(long)]
        branch: String,
        #[arg(long)]
        card: String,
        /// Purchase amount in minor units.
        #[arg(long)]
        amount: i64,
        #[arg(long, default_value = "IRR")]
        currency: String,
        /// Your order reference.
        #[arg(long)]
        reference: String,
        /// Keep the points pending until this time (RFC 3339).
        #[arg(long)]
        release_at: Option<chrono::DateTime<chrono::Utc>>,
        /// A basket line, `CATEGORY:AMOUNT[:MARGIN]` in minor units (repeat it; the lines add up
        /// to --amount).
        #[arg(long = "line", value_name = "CATEGORY:AMOUNT[:MARGIN]", value_parser = BasketLine::parse)]
        lines: Vec<BasketLine>,
        /// When the purchase happened, for one reported late (RFC 3339, within the programme's
        /// late window).
        #[arg(long)]
        occurred_at: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Release a pending earn now.
    PostEarn {
        id: Uuid,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Cancel a pending earn.
    VoidEarn {
        id: Uuid,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Redeem points for a discount (or only hold them with --hold).
    Redeem {
        #[arg(long)]
        branch: String,
        #[arg(long)]
        card: String,
        #[arg(long)]
        points: i64,
        /// Your bill reference.
        #[arg(long)]
        reference: String,
        /// Only authorize: hold the points until captured or voided.
        #[arg(long)]
        hold: bool,
        #[arg(long)]
        hold_timeout_secs: Option<u64>,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Capture a hold, all of it or --points of it.
    Capture {
        id: Uuid,
        #[arg(long)]
        points: Option<i64>,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Void a hold.
    Void {
        id: Uuid,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Reverse an earn or a redemption, all that is left or --points of it.
    Reverse {
        id: Uuid,
        #[arg(long)]
        points: Option<i64>,
        #[arg(long)]
        reference: Option<String>,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Settlement statements: list, get, verify, acknowledge, dispute.
    Statements {
        #[command(subcommand)]
        command: StatementsCommand,
    },
    /// List this partner's transactions, newest first.
    Transactions {
        /// earn, redeem, earn_reversal, redeem_reversal (comma-separated).
        #[arg(long = "type")]
        kind: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        cursor: Option<Uuid>,
    },
}

#[derive(Subcommand, Clone)]
enum StatementsCommand {
    /// List this partner's settlement statements.
    List,
    /// Show a statement; --lines writes its lines file too.
    Get {
        id: Uuid,
        #[arg(long)]
        lines: Option<PathBuf>,
    },
    /// Verify a statement: the JWS against the gateway's JWKS, the lines against their hash,
    /// the totals against the lines, and the chain to the previous statement.
    Verify { id: Uuid },
    /// Verify, then acknowledge the statement's hash (signed, idempotent).
    Ack {
        id: Uuid,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
    /// Verify, then dispute named lines (their transfer ids) with a reason.
    Dispute {
        id: Uuid,
        /// A disputed line's transfer_id; repeat for several.
        #[arg(long = "line", required = true)]
        lines: Vec<Uuid>,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        idempotency: IdempotencyArg,
    },
}

#[derive(clap::Args, Clone)]
struct IdempotencyArg {
    /// Idempotency key: reuse it to retry safely. A fresh one is generated when absent.
    #[arg(long)]
    idempotency_key: Option<String>,
}

impl IdempotencyArg {
    fn key(&self) -> String {
        self.idempotency_key
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string())
    }
}

fn print_movement(verb: &str, movement: &Movement, idempotency_key: &str, is_replay: bool) {
    let t = &movement.transaction;
    let money = t
        .money
        .as_ref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let replay = if is_replay { " [replayed]" } else { "" };
    println!(
        "{verb} {}{money}: {} {}{replay}",
        amounts::format_points(t.points),
        t.kind,
        t.state
    );
    println!("  transaction: {}", t.id);
    if let Some(timeout_at) = t.timeout_at {
        println!("  until:       {timeout_at}");
    }
    println!("  balance:     {}", balance(&movement.balance));
    println!("  idempotency key: {idempotency_key}");
}

/// A member's points in one line: `12,345 available (12,845 posted, 500 held, 0 pending)`.
fn balance(b: &Balance) -> String {
    format!(
        "{} available ({} posted, {} held, {} pending)",
        amounts::group(b.available),
        amounts::group(b.posted),
        amounts::group(b.held),
        amounts::group(b.pending_earned)
    )
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Register the next public key, signed with the current one (for rotation).
    Register {
        /// The new key (a private JWK is accepted; only its public half is sent).
        #[arg(long)]
        jwk: PathBuf,
        /// Idempotency key; defaults to one derived from the new key id, so a rerun is safe.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

async fn connect(cli: &Cli) -> anyhow::Result<Client> {
    let key_path = cli
        .key
        .as_ref()
        .context("no key given: pass --key FILE or set PARTNER_KEY")?;
    let key = Jwk::read(key_path)?
        .private_key()
        .with_context(|| format!("{} is not a usable private key", key_path.display()))?;
    let ca_path = cli
        .ca_cert
        .clone()
        .or_else(|| std::path::Path::new(DEV_CA).exists().then(|| DEV_CA.into()));
    let ca_certificate_pem = match ca_path {
        Some(path) => {
            Some(std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        None => None,
    };
    let gateway_keys = match &cli.gateway_jwks {
        Some(path) => Some(serde_json::from_slice::<JwkSet>(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )?),
        None => None,
    };
    Ok(Client::connect(ClientOptions {
        gateway_url: cli.gateway.clone(),
        key,
        ca_certificate_pem,
        gateway_keys,
    })
    .await?)
}

async fn statements(client: &Client, command: StatementsCommand, json: bool) -> anyhow::Result<()> {
    let verified = |v: &partners::settlement::VerifiedStatement| {
        let s = &v.statement;
        println!(
            "statement #{} of {} verified: {} – {}, {} lines, net {} ({})",
            s.sequence,
            s.partner.code,
            s.period.start,
            s.period.end,
            s.lines.count,
            amounts::format_money(s.net_minor, &s.currency),
            s.net_direction
        );
        println!("  sha256: {}", v.sha256);
    };
    match command {
        StatementsCommand::List => {
            let receipt = client.statements().await?;
            if json {
                return print_json(&receipt.raw_body);
            }
            for s in &receipt.body.statements {
                println!(
                    "{}  #{:<4} {} – {}  {:<12} net {:>20}",
                    s.id,
                    s.sequence,
                    s.period_start.format("%Y-%m-%d %H:%M"),
                    s.period_end.format("%Y-%m-%d %H:%M"),
                    s.status,
                    amounts::format_money(s.net_minor, &s.currency)
                );
            }
        }
        StatementsCommand::Get { id, lines } => {
            let receipt = client.statement(id).await?;
            if let Some(path) = lines {
                std::fs::write(&path, client.statement_lines(id).await?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote the lines to {}", path.display());
            }
            return print_json(&receipt.raw_body);
        }
        StatementsCommand::Verify { id } => {
            let v = client.verify_statement(id).await?;
            verified(&v);
        }
        StatementsCommand::Ack { id, idempotency } => {
            let v = client.verify_statement(id).await?;
            verified(&v);
            let key = idempotency.key();
            let receipt = client.acknowledge_statement(id, &key, &v.sha256).await?;
            println!("acknowledged ({}), idempotency key {key}", receipt.body.id);
        }
        StatementsCommand::Dispute {
            id,
            lines,
            reason,
            idempotency,
        } => {
            let v = client.verify_statement(id).await?;
            verified(&v);
            let key = idempotency.key();
            let request = partners::settlement::DisputeRequest {
                statement_sha256: v.sha256.clone(),
                lines,
                reason,
            };
            let receipt = client.dispute_statement(id, &key, &request).await?;
            println!(
                "disputed {} lines ({}), idempotency key {key}",
                receipt.body.disputed_lines.len(),
                receipt.body.id
            );
        }
    }
    Ok(())
}

fn print_json(raw: &[u8]) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_slice(raw)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = connect(&cli).await?;
    match &cli.command {
        Command::Whoami => {
            let receipt = client.whoami().await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            let profile = receipt.body;
            println!(
                "{} ({}, {})",
                profile.name,
                profile.code,
                profile.kind.as_str()
            );
            println!("  partner id: {}", profile.id);
            println!("  status:     {}", profile.status);
            println!("  signed with key {}", profile.key_id);
            println!("  branches:");
            for branch in &profile.branches {
                let city = branch.city.as_deref().unwrap_or("-");
                println!(
                    "    {:<16} {} ({city}, {})",
                    branch.code, branch.name, branch.status
                );
            }
            println!("receipt verified: gateway key {}", receipt.gateway_key_id);
        }
        Command::Keys {
            command:
                KeysCommand::Register {
                    jwk,
                    idempotency_key,
                },
        } => {
            let public = Jwk::read(jwk)?.public_key()?;
            let key = idempotency_key
                .clone()
                .unwrap_or_else(|| format!("register-key-{}", public.kid));
            let receipt = client
                .register_key(
                    &RegisterKeyRequest {
                        jwk: public.to_jwk(),
                    },
                    &key,
                )
                .await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            let replay = if receipt.is_replay { " (replayed)" } else { "" };
            println!(
                "registered key {} ({}){replay}",
                receipt.body.key_id, receipt.body.status
            );
            println!("receipt verified: gateway key {}", receipt.gateway_key_id);
        }
        Command::Enroll {
            branch,
            phone,
            name,
            email,
            birth_date,
            city,
            invite_code,
            consents_to_messages,
            idempotency,
        } => {
            let key = idempotency.key();
            let request = EnrollRequest {
                branch: branch.clone(),
                phone: phone.clone(),
                name: name.clone(),
                email: email.clone(),
                birth_date: *birth_date,
                city: city.clone(),
                invite_code: invite_code.clone(),
                consents_to_messages: *consents_to_messages,
            };
            let receipt = client.enroll(&request, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            println!("enrolled member {}", receipt.body.member_id);
            println!("  card number: {}", receipt.body.card_number);
            println!("  invite code: {}", receipt.body.invite_code);
            if receipt.body.bonus_points > 0 {
                println!("  bonuses: {} points", receipt.body.bonus_points);
            }
        }
        Command::Check { card, branch } => {
            let receipt = client.check_card(card, branch.as_deref()).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            let c = receipt.body;
            println!("card {} ({}): {}", c.card_number, c.status, c.first_name);
            if let Some(tier) = &c.tier {
                println!(
                    "  tier: {} (points ×{})",
                    tier.name.en, tier.earn_multiplier
                );
                if let Some(until) = tier.held_until {
                    println!("  kept until {until} unless the member qualifies again");
                }
                if let Some(p) = &tier.progress {
                    println!(
                        "  toward {}: {} of {} {}",
                        p.tier, p.have, p.need, p.measure
                    );
                }
            }
            println!("  balance: {}", balance(&c.balance));
            if let Some(value) = c.redeemable_value {
                println!("  redeemable now for {value}");
            }
            for campaign in &c.campaigns {
                let award = match (&campaign.multiplier, campaign.points) {
                    (Some(factor), _) => format!("points ×{factor}"),
                    (None, Some(points)) => format!("{points} bonus points"),
                    (None, None) => String::new(),
                };
                println!("  today here: {} ({award})", campaign.name.en);
            }
            for r in &c.repeat_visits {
                if r.have < i64::from(r.visits) {
                    println!(
                        "  visit {} within {} days earns {}: {} so far",
                        r.visits,
                        r.within_days,
                        amounts::format_points(r.points),
                        r.have
                    );
                }
            }
        }
        Command::Quote {
            branch,
            amount,
            currency,
            points,
        } => {
            let money = amount.map(|amount_minor| Money {
                amount_minor,
                currency: currency.clone(),
            });
            let receipt = client.quote(branch, money.as_ref(), *points).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            let q = receipt.body;
            if let Some(earned) = q.earn_points {
                println!(
                    "a purchase of {} earns {}",
                    amounts::format_money(amount.unwrap_or(0), &q.rule.currency),
                    amounts::format_points(earned)
                );
            }
            if let Some(discount) = q.discount {
                println!(
                    "{} take {discount} off",
                    amounts::format_points(points.unwrap_or(0))
                );
            }
        }
        Command::Earn {
            branch,
            card,
            amount,
            currency,
            reference,
            release_at,
            lines,
            occurred_at,
            idempotency,
        } => {
            let key = idempotency.key();
            let request = EarnRequest {
                branch: branch.clone(),
                card_number: card.clone(),
                amount: Money {
                    amount_minor: *amount,
                    currency: currency.clone(),
                },
                reference: reference.clone(),
                release_at: *release_at,
                lines: lines.clone(),
                occurred_at: *occurred_at,
            };
            let receipt = client.earn(&request, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("earned", &receipt.body, &key, receipt.is_replay);
        }
        Command::PostEarn { id, idempotency } => {
            let key = idempotency.key();
            let receipt = client.post_earn(*id, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("released", &receipt.body, &key, receipt.is_replay);
        }
        Command::VoidEarn { id, idempotency } => {
            let key = idempotency.key();
            let receipt = client.void_earn(*id, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("cancelled", &receipt.body, &key, receipt.is_replay);
        }
        Command::Redeem {
            branch,
            card,
            points,
            reference,
            hold,
            hold_timeout_secs,
            idempotency,
        } => {
            let key = idempotency.key();
            let request = RedeemRequest {
                branch: branch.clone(),
                card_number: card.clone(),
                points: *points,
                reference: reference.clone(),
                hold: *hold,
                hold_timeout_secs: *hold_timeout_secs,
            };
            let receipt = client.redeem(&request, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement(
                if *hold { "held" } else { "redeemed" },
                &receipt.body,
                &key,
                receipt.is_replay,
            );
        }
        Command::Capture {
            id,
            points,
            idempotency,
        } => {
            let key = idempotency.key();
            let receipt = client
                .capture(*id, &CaptureRequest { points: *points }, &key)
                .await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("captured", &receipt.body, &key, receipt.is_replay);
        }
        Command::Void { id, idempotency } => {
            let key = idempotency.key();
            let receipt = client.void_hold(*id, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("released", &receipt.body, &key, receipt.is_replay);
        }
        Command::Reverse {
            id,
            points,
            reference,
            idempotency,
        } => {
            let key = idempotency.key();
            let request = ReverseRequest {
                transaction_id: *id,
                points: *points,
                reference: reference.clone(),
            };
            let receipt = client.reverse(&request, &key).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            print_movement("reversed", &receipt.body, &key, receipt.is_replay);
        }
        Command::Statements { command } => statements(&client, command.clone(), cli.json).await?,
        Command::Transactions {
            kind,
            from,
            to,
            limit,
            cursor,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            for (name, value) in [("type", kind), ("from", from), ("to", to)] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
            if let Some(cursor) = cursor {
                query.append_pair("cursor", &cursor.to_string());
            }
            let receipt = client.transactions(&query.finish()).await?;
            if cli.json {
                return print_json(&receipt.raw_body);
            }
            for t in &receipt.body.transactions {
                println!(
                    "{}  {:<16} {:<8} {:>10} pts  card …{}  {}  {}",
                    t.created_at.format("%Y-%m-%d %H:%M:%S"),
                    t.kind,
                    t.state,
                    amounts::group(t.points),
                    t.card_last4.as_deref().unwrap_or("----"),
                    t.reference.as_deref().unwrap_or("-"),
                    t.id
                );
            }
            if let Some(cursor) = receipt.body.next_cursor {
                println!("more: --cursor {cursor}");
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<ClientError>() {
                Some(ClientError::Problem { problem }) => {
                    eprintln!(
                        "error: {} [{}]: {}",
                        problem.title, problem.code, problem.detail
                    );
                }
                _ => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
