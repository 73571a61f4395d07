//! `clubgate backup restore-point` and `verify`: the two ends of the restore drill
//! (`scripts/backup.sh drill`, `docs/operations.md`). The drill restores a base backup and the
//! streamed WAL to a named restore point in a scratch cluster; these commands say what the ledger
//! held at that point in the live database, and whether the restored copy holds exactly that.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use partners::amounts::group;
use storage::Storage;
use storage::backup::{Fingerprint, RestorePoint};

#[derive(Subcommand)]
pub(super) enum BackupCommand {
    /// Create a named restore point in the live database and write the ledger as it stands
    /// there (every account's balance, every statement chain) to a file.
    RestorePoint {
        #[arg(long)]
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Compare this database's ledger (the restored copy) with a restore point's file; fails on
    /// any difference.
    Verify {
        #[arg(long)]
        expected: PathBuf,
    },
}

pub(super) async fn backup(storage: &Storage, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::RestorePoint { name, out } => {
            let (mut locker, mut reader) = (storage.db().await?, storage.db().await?);
            let point =
                storage::backup::mark_restore_point(&mut locker, &mut reader, &name).await?;
            std::fs::write(&out, serde_json::to_vec(&point)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "restore point {name} at {}: {} accounts, {} statements, {} transfers",
                point.lsn,
                count(point.fingerprint.accounts.len()),
                count(point.fingerprint.statements.len()),
                group(point.fingerprint.transfers)
            );
        }
        BackupCommand::Verify { expected } => {
            let expected: RestorePoint = serde_json::from_slice(
                &std::fs::read(&expected)
                    .with_context(|| format!("reading {}", expected.display()))?,
            )?;
            let restored = storage::backup::fingerprint(&mut *storage.db().await?).await?;
            report(&expected, &restored)?;
        }
    }
    Ok(())
}

/// Prints what was compared; fails listing the first differences.
fn report(expected: &RestorePoint, restored: &Fingerprint) -> anyhow::Result<()> {
    let live = &expected.fingerprint;
    let mut differences = Vec::new();
    let accounts = |f: &Fingerprint| {
        f.accounts
            .iter()
            .map(|a| (a.id, a.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (live_accounts, restored_accounts) = (accounts(live), accounts(restored));
    for (id, account) in &live_accounts {
        match restored_accounts.get(id) {
            Some(copy) if copy == account => {}
            Some(copy) => {
                differences.push(format!("account {id}: live {account:?}, restored {copy:?}"))
            }
            None => differences.push(format!("account {id} is missing from the restored copy")),
        }
    }
    for id in restored_accounts
        .keys()
        .filter(|id| !live_accounts.contains_key(id))
    {
        differences.push(format!("account {id} exists only in the restored copy"));
    }
    if live.statements != restored.statements {
        differences.push(format!(
            "statement chains differ: {} statements live, {} restored",
            live.statements.len(),
            restored.statements.len()
        ));
    }
    if live.transfers != restored.transfers {
        differences.push(format!(
            "{} transfers live, {} restored",
            live.transfers, restored.transfers
        ));
    }
    let members = live
        .accounts
        .iter()
        .filter(|a| a.member_id.is_some())
        .count();
    let partners: std::collections::BTreeSet<_> =
        live.statements.iter().map(|s| s.partner_id).collect();
    println!("restore point {} ({})", expected.name, expected.lsn);
    println!(
        "  {} member balances, {} other accounts, {} transfers",
        count(members),
        count(live.accounts.len() - members),
        group(live.transfers)
    );
    println!(
        "  {} statements in {} partners' chains",
        count(live.statements.len()),
        count(partners.len())
    );
    if differences.is_empty() {
        println!("  the restored copy is identical to the live ledger at the restore point");
        return Ok(());
    }
    for difference in differences.iter().take(20) {
        println!("  DIFFERENCE: {difference}");
    }
    anyhow::bail!("the restored copy differs in {} places", differences.len())
}

fn count(n: usize) -> String {
    group(u64::try_from(n).unwrap_or(u64::MAX))
}
