//! `clubgate program`: the programme's rules (categories, tiers, earn rules, bonuses,
//! campaigns), each change a new version recorded with who made it (`docs/program.md`).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use domain::member_data::MemberDataKeys;
use domain::program::rules::{Change, RuleDefinition, RuleKind, statuses};
use storage::Storage;

#[derive(Subcommand)]
pub(super) enum ProgramCommand {
    /// Every rule's versions (of one kind, with --kind).
    List {
        #[arg(long, value_parser = RuleKind::parse)]
        kind: Option<RuleKind>,
    },
    /// One rule's versions with their definitions (JSON).
    Show {
        #[arg(value_parser = RuleKind::parse)]
        kind: RuleKind,
        code: String,
    },
    /// Add a rule: KIND CODE --file DEFINITION.json [--from TIME].
    Create {
        #[arg(value_parser = RuleKind::parse)]
        kind: RuleKind,
        code: String,
        #[command(flatten)]
        version: NewVersion,
    },
    /// Change a rule: a new version from --from (now if absent).
    Change {
        #[arg(value_parser = RuleKind::parse)]
        kind: RuleKind,
        code: String,
        #[command(flatten)]
        version: NewVersion,
    },
    /// What a campaign would have given over the last --days of purchases: campaign CODE as
    /// defined now, or the definition in --file (before creating it). Writes nothing.
    DryRun {
        /// A campaign's code.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        code: Option<String>,
        /// A campaign's definition, as JSON.
        #[arg(long)]
        file: Option<PathBuf>,
        /// How many days back to replay (1 to 366).
        #[arg(long, default_value_t = 30)]
        days: u16,
    },
    /// Retire a rule from --from (now if absent).
    Retire {
        #[arg(value_parser = RuleKind::parse)]
        kind: RuleKind,
        code: String,
        /// When it stops applying (RFC 3339).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
    },
}

#[derive(clap::Args)]
pub(super) struct NewVersion {
    /// The definition, as JSON (docs/program.md shows one of each kind).
    #[arg(long)]
    file: PathBuf,
    /// When the version comes into force (RFC 3339); now if absent.
    #[arg(long)]
    from: Option<DateTime<Utc>>,
}

impl NewVersion {
    fn definition(&self, kind: RuleKind) -> anyhow::Result<RuleDefinition> {
        definition_in(&self.file, kind)
    }
}

/// The definition of a rule of `kind` in `file`.
fn definition_in(file: &std::path::Path, kind: RuleKind) -> anyhow::Result<RuleDefinition> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let json =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    Ok(RuleDefinition::parse(kind, json)?)
}

/// `clubgate program dry-run`: the campaign's report, amounts as people read them.
async fn dry_run(
    storage: &Storage,
    club: (chrono_tz::Tz, &MemberDataKeys),
    code: Option<String>,
    file: Option<PathBuf>,
    days: u16,
) -> anyhow::Result<()> {
    use operations::dry_runs;
    let now = Utc::now();
    let report = match (code, file) {
        (Some(code), _) => dry_runs::dry_run_of(storage, club, &code, days, now).await?,
        (None, Some(file)) => {
            let RuleDefinition::Campaign(campaign) = definition_in(&file, RuleKind::Campaign)?
            else {
                anyhow::bail!("{} is not a campaign", file.display());
            };
            dry_runs::dry_run(storage, club, &campaign, days, now).await?
        }
        (None, None) => anyhow::bail!("give a campaign's code or --file"),
    };
    let found = &report.found;
    let points = partners::amounts::format_points;
    println!(
        "over the {days} days to {}: {} purchases replayed, {} rewarded, {} members reached",
        report.to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        found.earns,
        found.rewarded,
        found.members.len()
    );
    println!("it would have given {}", points(found.points));
    for (funder, part) in &report.funders {
        println!("  {funder:<24} {:>16}", points(*part));
    }
    if let Some(at) = found.budget_spent_at {
        println!(
            "its budget would have run out at {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    Ok(())
}

/// Who the command line records as the author of a change.
pub(super) fn author() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", process_uid()));
    format!("cli:{user}")
}

/// `clubgate program …`.
pub(super) async fn program(
    storage: &Storage,
    club: (chrono_tz::Tz, &MemberDataKeys),
    command: ProgramCommand,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let (kind, code, change, from) = match command {
        ProgramCommand::DryRun { code, file, days } => {
            return dry_run(storage, club, code, file, days).await;
        }
        ProgramCommand::List { kind } => {
            let versions = operations::program::list(storage, kind).await?;
            if versions.is_empty() {
                println!("no programme rules yet (clubgate program create KIND CODE --file …)");
            }
            println!(
                "{:<10} {:<24} {:>3}  {:<25} {:<9}  by",
                "kind", "code", "v", "from", "status"
            );
            for (v, status) in versions.iter().zip(statuses(&versions, now)) {
                println!(
                    "{:<10} {:<24} {:>3}  {:<25} {:<9}  {}",
                    v.kind.as_str(),
                    v.code.as_str(),
                    v.version,
                    v.effective_from
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    status.as_str(),
                    v.created_by
                );
            }
            return Ok(());
        }
        ProgramCommand::Show { kind, code } => {
            let versions = operations::program::show(storage, kind, &code).await?;
            let shown: Vec<serde_json::Value> = versions
                .iter()
                .zip(statuses(&versions, now))
                .map(|(v, status)| {
                    serde_json::json!({
                        "version": v.version,
                        "effective_from": v.effective_from,
                        "status": status.as_str(),
                        "created_by": v.created_by,
                        "created_at": v.created_at,
                        "definition": v.definition.as_ref().map(RuleDefinition::to_json),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&shown)?);
            return Ok(());
        }
        ProgramCommand::Create {
            kind,
            code,
            version,
        } => {
            let definition = version.definition(kind)?;
            (kind, code, Change::Create(definition), version.from)
        }
        ProgramCommand::Change {
            kind,
            code,
            version,
        } => {
            let definition = version.definition(kind)?;
            (kind, code, Change::Amend(definition), version.from)
        }
        ProgramCommand::Retire { kind, code, from } => (kind, code, Change::Retire, from),
    };
    let author = author();
    let by = operations::program::Author {
        name: &author,
        request: None,
    };
    let version = operations::program::change(storage, kind, &code, change, from, by, now)
        .await
        .map_err(|e| anyhow::anyhow!("{kind} {code}: {e}"))?
        .version;
    println!(
        "{} {} version {} {} from {}",
        version.kind,
        version.code,
        version.version,
        if version.definition.is_some() {
            "in force"
        } else {
            "retired"
        },
        version
            .effective_from
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(())
}

/// The process's user id (no user name in the environment, e.g. in a container).
fn process_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(u32::MAX)
}
