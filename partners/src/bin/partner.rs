//! `partner`: the partner side of clubgate from a terminal.
//!
//! Every command is a signed request whose receipt is verified before anything
//! is printed; human output by default, `--json` for scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use partners::client::{Client, ClientError, ClientOptions};
use partners::jwk::{Jwk, JwkSet};
use partners::protocol::RegisterKeyRequest;

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
