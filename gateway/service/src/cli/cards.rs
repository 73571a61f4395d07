//! `clubgate cards`: blocking, unblocking and replacing club cards.

use clap::Subcommand;
use domain::cards::CardNumber;
use domain::program::ProgramSettings;
use operations::members;
use storage::Storage;

#[derive(Subcommand)]
pub(super) enum CardsCommand {
    /// Block a card; its member keeps their points.
    Block { number: String },
    /// Unblock a blocked card.
    Unblock { number: String },
    /// Mark a card lost and issue a replacement that keeps the member's points and history.
    Replace { number: String },
}

fn parse(number: &str) -> anyhow::Result<CardNumber> {
    CardNumber::parse(number).map_err(|e| anyhow::anyhow!("{number}: {e}"))
}

/// `clubgate cards …`.
pub(super) async fn cards(
    storage: &Storage,
    program: &ProgramSettings,
    command: CardsCommand,
) -> anyhow::Result<()> {
    let (name, from) = super::staff::actor();
    let by = Some(operations::staff::Actor {
        name: &name,
        from: &from,
    });
    match command {
        CardsCommand::Block { number } => {
            members::block_card(storage, &parse(&number)?, by).await?;
            println!("blocked card {number}");
        }
        CardsCommand::Unblock { number } => {
            members::unblock_card(storage, &parse(&number)?, by).await?;
            println!("unblocked card {number}");
        }
        CardsCommand::Replace { number } => {
            let replacement =
                members::replace_lost_card(storage, program, &parse(&number)?, by).await?;
            println!(
                "card {number} marked lost; replacement card {replacement} keeps the balance and history"
            );
        }
    }
    Ok(())
}
