//! `clubgate keys` and `operators`: key files, partner keys, operator keys.

use domain::keys::ReservedKeys;
use std::path::{Path, PathBuf};

use ::partners::jwk::{DEVELOPMENT_KEY_NOTE, Jwk, PrivateKey};
use clap::Subcommand;
use domain::keys::OperatorRole;
use domain::member_data::MemberDataKeys;
use operations::keys;
use storage::Storage;

use super::write_new;

#[derive(Subcommand)]
pub(super) enum KeysCommand {
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
pub(super) enum OperatorsCommand {
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

/// The key-file commands, which need no configuration; `None` for the others.
pub(super) fn files(command: &KeysCommand) -> Option<anyhow::Result<()>> {
    match command {
        KeysCommand::Generate {
            kid,
            out,
            development,
        } => Some(generate_key(kid, out, *development)),
        KeysCommand::GenerateMemberKey { out } => Some(generate_member_key(out)),
        _ => None,
    }
}

fn generate_member_key(out: &Path) -> anyhow::Result<()> {
    let jwk = serde_json::json!({ "kty": "oct", "k": MemberDataKeys::generate_master() });
    write_new(out, &(serde_json::to_string_pretty(&jwk)? + "\n"), 0o600)?;
    println!(
        "wrote {} (keep it secret and backed up: member data cannot be read without it)",
        out.display()
    );
    Ok(())
}

pub(super) fn generate_key(kid: &str, out: &Path, is_development: bool) -> anyhow::Result<()> {
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

fn public_key_file(file: &Path) -> anyhow::Result<::partners::jwk::PublicKey> {
    let jwk = Jwk::read(file)?;
    anyhow::ensure!(
        !jwk.is_private(),
        "{} holds a private key: register the public key (.pub.jwk) only",
        file.display()
    );
    Ok(jwk.public_key()?)
}

/// `clubgate keys register|revoke|list`.
pub(super) async fn partner_keys(
    storage: &Storage,
    reserved: &ReservedKeys,
    key_cache_ttl_secs: u64,
    command: KeysCommand,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { .. } | KeysCommand::GenerateMemberKey { .. } => {
            anyhow::bail!("key files are written without a configuration")
        }
        KeysCommand::Register { partner, file } => {
            let key = keys::register(storage, reserved, &partner, &public_key_file(&file)?).await?;
            println!("registered key {} for {partner}", key.kid);
        }
        KeysCommand::Revoke { kid } => {
            let key = keys::revoke(storage, &kid).await?;
            println!(
                "revoked key {} (requests signed with it are refused within the key cache TTL, {key_cache_ttl_secs} s)",
                key.kid,
            );
        }
        KeysCommand::List { partner } => {
            for k in keys::list(storage, &partner).await? {
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
    Ok(())
}

/// `clubgate operators …`.
pub(super) async fn operators(
    storage: &Storage,
    reserved: &ReservedKeys,
    command: OperatorsCommand,
) -> anyhow::Result<()> {
    match command {
        OperatorsCommand::Add { name, role, file } => {
            let key =
                keys::register_operator(storage, reserved, &name, role, &public_key_file(&file)?)
                    .await?;
            println!(
                "registered operator key {} ({}, {})",
                key.kid,
                key.name,
                key.role.as_str()
            );
        }
        OperatorsCommand::List => {
            for k in keys::list_operators(storage).await? {
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
            let key = keys::revoke_operator(storage, &kid).await?;
            println!("revoked operator key {}", key.kid);
        }
    }
    Ok(())
}
