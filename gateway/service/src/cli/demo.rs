//! `clubgate demo`: loading the demo network, and writing a partner's file with seeded
//! differences for the reconciliation walkthrough and benchmark.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use operations::Club;
use storage::Storage;

use super::Window;

#[derive(Subcommand)]
pub(super) enum DemoCommand {
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

/// `clubgate demo …`.
pub(super) async fn demo(club: &Club, command: DemoCommand) -> anyhow::Result<()> {
    match command {
        DemoCommand::Load { file, members } => {
            let created = crate::demo::load(&club.storage, &club.reserved_keys, &file).await?;
            if created.is_empty() {
                println!("demo partners already loaded");
            }
            for line in created {
                println!("created {line}");
            }
            let enrolled = crate::demo::load_members(club, members, |done| {
                eprintln!("  demo members: {done} of {members}");
            })
            .await?;
            if enrolled == 0 {
                println!("demo members already loaded");
            } else {
                println!("enrolled {enrolled} demo members with history; cards:");
                for index in 0..enrolled.min(5) {
                    println!("  {}", crate::demo::demo_card(&club.program, index));
                }
            }
        }
        DemoCommand::PartnerFile {
            partner,
            window,
            seeds,
            out,
        } => {
            let (from, to) = window.resolve();
            write_partner_file(&club.storage, &partner, from, to, seeds, &out).await?;
        }
    }
    Ok(())
}

/// `clubgate demo partner-file`: the partner's file from the ledger, with seeded differences.
async fn write_partner_file(
    storage: &Storage,
    partner: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    seeds: usize,
    out: &Path,
) -> anyhow::Result<()> {
    let entries =
        operations::settlement::reconcile::ledger_entries(storage, partner, from, to).await?;
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
