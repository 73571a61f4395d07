//! `clubgate program`: the programme's rules (categories, tiers, earn rules, bonuses,
//! campaigns), each change a new version recorded with who made it (`docs/program.md`).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use domain::program::rules::{Change, RuleDefinition, RuleKind, RuleVersion};
use storage::Storage;

#[derive(Subcommand)]
pub(super) enum ProgramCommand {
    /// Every rule's versions (of one kind, with --kind).
    List {
        #[arg(long, value_parser = kind)]
        kind: Option<RuleKind>,
    },
    /// One rule's versions with their definitions (JSON).
    Show {
        #[arg(value_parser = kind)]
        kind: RuleKind,
        code: String,
    },
    /// Add a rule: KIND CODE --file DEFINITION.json [--from TIME].
    Create {
        #[arg(value_parser = kind)]
        kind: RuleKind,
        code: String,
        #[command(flatten)]
        version: NewVersion,
    },
    /// Change a rule: a new version from --from (now if absent).
    Change {
        #[arg(value_parser = kind)]
        kind: RuleKind,
        code: String,
        #[command(flatten)]
        version: NewVersion,
    },
    /// Retire a rule from --from (now if absent).
    Retire {
        #[arg(value_parser = kind)]
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
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let json = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", self.file.display()))?;
        Ok(RuleDefinition::parse(kind, json)?)
    }
}

/// A rule kind as typed, or the list of kinds.
fn kind(text: &str) -> Result<RuleKind, String> {
    text.parse().map_err(|_| {
        use strum::IntoEnumIterator as _;
        let kinds: Vec<&str> = RuleKind::iter().map(RuleKind::as_str).collect();
        format!("not a rule kind; one of {}", kinds.join(", "))
    })
}

/// Who the command line records as the author of a change.
fn author() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", process_uid()));
    format!("cli:{user}")
}

fn status(version: &RuleVersion, now: DateTime<Utc>) -> &'static str {
    match (&version.definition, version.effective_from <= now) {
        (None, true) => "retired",
        (None, false) => "retires",
        (Some(_), true) => "in force",
        (Some(_), false) => "scheduled",
    }
}

/// `clubgate program …`.
pub(super) async fn program(storage: &Storage, command: ProgramCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    let (kind, code, change, from) = match command {
        ProgramCommand::List { kind } => {
            let versions = operations::program::list(storage, kind).await?;
            if versions.is_empty() {
                println!("no programme rules yet (clubgate program create KIND CODE --file …)");
            }
            println!(
                "{:<10} {:<24} {:>3}  {:<25} {:<9}  by",
                "kind", "code", "v", "from", "status"
            );
            for v in &versions {
                println!(
                    "{:<10} {:<24} {:>3}  {:<25} {:<9}  {}",
                    v.kind.as_str(),
                    v.code.as_str(),
                    v.version,
                    v.effective_from
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    status(v, now),
                    v.created_by
                );
            }
            return Ok(());
        }
        ProgramCommand::Show { kind, code } => {
            let versions = operations::program::show(storage, kind, &code).await?;
            let shown: Vec<serde_json::Value> = versions
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "version": v.version,
                        "effective_from": v.effective_from,
                        "status": status(v, now),
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
    let version = operations::program::change(storage, kind, &code, change, from, &author(), now)
        .await
        .map_err(|e| anyhow::anyhow!("{kind} {code}: {e}"))?;
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
