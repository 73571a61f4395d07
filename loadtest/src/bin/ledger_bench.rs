//! `ledger-bench`: the ledger core alone. Drives the gateway's ledger committer
//! directly (no HTTP, no signatures) with earns and redemptions of the demo
//! members (Zipf popularity), closed loop, and reports operations per second,
//! latency, and the batches the committer formed. Every answer is checked: each
//! operation acknowledged as committed must be in the ledger once, and nothing else.
//!
//! Needs a database with the demo network loaded (`make demo`) and the gateway's
//! configuration (`CLUBGATE_CONFIG`, `DATABASE_URL`, `REDIS_URL`, `MEMBER_DATA_KEY[_FILE]`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl as _;
use domain::cards::CardNumber;
use domain::ids::{BranchId, MemberId, PartnerId};
use domain::ledger::books::{LedgerOp, PointOfSale, PricedEarn, PricedRedemption};
use domain::points::{Currency, Money, Points};
use hdrhistogram::Histogram;
use operations::idempotency::{Answer, IdempotencyKey, Scope};
use operations::ledger::committer::{Committer, CommitterSettings};
use rand::{Rng as _, SeedableRng as _};
use rand_distr::Distribution as _;
use storage::Storage;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "ledger-bench",
    about = "Drive the ledger committer directly (no HTTP, no signatures)"
)]
struct Args {
    /// Gateway configuration (for the database, Redis and programme settings).
    #[arg(long, env = "CLUBGATE_CONFIG")]
    config: PathBuf,
    /// Concurrent submitters (closed loop).
    #[arg(long, default_value_t = 2000)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Committers (operations are sharded by member).
    #[arg(long, default_value_t = 1)]
    committers: usize,
    /// How long a committer waits for more operations once it has one, in µs.
    #[arg(long, default_value_t = 0)]
    batch_window_us: u64,
    /// The most operations in one batch.
    #[arg(long, default_value_t = 1000)]
    batch_max: usize,
    /// Demo members to draw from.
    #[arg(long, default_value_t = 1000)]
    members: i64,
    /// Zipf exponent of member popularity.
    #[arg(long, default_value_t = 1.1)]
    zipf: f64,
    /// Per cent of operations that are redemptions (the rest are earns).
    #[arg(long, default_value_t = 75)]
    redeem_percent: u32,
    /// The baseline (textbook transactions per second) to compare with.
    #[arg(long)]
    baseline_tps: Option<f64>,
    /// Where to write `ledger-core.{md,json}`.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    #[arg(long, default_value = "ledger-core")]
    label: String,
    /// Processes whose CPU per operation to report, e.g. `postgres=999` (with their children);
    /// this one's own (submitters and committers) is reported as `loadtest`.
    #[arg(long, value_delimiter = ',')]
    watch_cpu: Vec<loadtest::cpu::Watched>,
}

/// A till of a demo partner: its first branch and the partner's rule.
#[derive(diesel::QueryableByName, Clone)]
struct Counter {
    #[diesel(sql_type = SqlUuid)]
    partner_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    branch_id: Uuid,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    per_amount_minor: i64,
    #[diesel(sql_type = BigInt)]
    point_value_minor: i64,
}

/// A till as the bench submits from it, with the rule's currency checked.
#[derive(Clone)]
struct Till {
    partner_id: Uuid,
    branch_id: Uuid,
    currency: Currency,
    per_amount_minor: i64,
    point_value_minor: i64,
}

/// A demo card and its member.
struct DemoCard {
    number: CardNumber,
    member_id: Uuid,
}

#[derive(diesel::QueryableByName)]
struct Card {
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = SqlUuid)]
    member_id: Uuid,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(Default)]
struct Tally {
    committed: u64,
    refused: u64,
    failed: u64,
    latency: Option<Histogram<u64>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = gateway::config::Config::load(&args.config)?;
    let mut storage_settings = gateway::state::storage_settings(&config);
    storage_settings.ledger_pool_size = args.committers;
    let storage = Storage::connect(&storage_settings).await?;
    let metrics = gateway::metrics::install();
    let (counters, cards) = {
        let mut conn = storage.db().await?;
        let counters: Vec<Counter> = diesel::sql_query(
            "SELECT DISTINCT ON (p.id) p.id AS partner_id, b.id AS branch_id, r.currency, \
                    r.per_amount_minor, r.point_value_minor \
               FROM partners p JOIN branches b ON b.partner_id = p.id \
               JOIN point_rules r ON r.partner_id = p.id AND r.branch_id IS NULL \
              ORDER BY p.id, b.code",
        )
        .load(&mut conn)
        .await?;
        let cards: Vec<Card> = diesel::sql_query(
            "SELECT number, member_id FROM cards WHERE status = 'active' ORDER BY number LIMIT $1",
        )
        .bind::<BigInt, _>(args.members)
        .load(&mut conn)
        .await?;
        (counters, cards)
    };
    anyhow::ensure!(
        !counters.is_empty() && !cards.is_empty(),
        "no demo network here: run `make demo` first"
    );
    let counters: Vec<Till> = counters
        .into_iter()
        .map(|c| {
            Ok(Till {
                partner_id: c.partner_id,
                branch_id: c.branch_id,
                currency: Currency::parse(&c.currency)?,
                per_amount_minor: c.per_amount_minor,
                point_value_minor: c.point_value_minor,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let cards: Vec<DemoCard> = cards
        .into_iter()
        .map(|c| {
            Ok(DemoCard {
                number: CardNumber::parse(&c.number)?,
                member_id: c.member_id,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let settings = CommitterSettings {
        committers: args.committers,
        batch_window: Duration::from_micros(args.batch_window_us),
        batch_max: args.batch_max,
    };
    let committer = Committer::start(storage.clone(), config.program.clone(), settings);
    let run_id = Uuid::now_v7().simple().to_string();
    eprintln!(
        "ledger-bench: {} clients for {} s, {} committer(s), window {} µs, batches up to {}",
        args.clients, args.duration_secs, args.committers, args.batch_window_us, args.batch_max
    );
    let shared = Arc::new((counters, cards));
    let zipf = rand_distr::Zipf::new(shared.1.len() as u64, args.zipf)
        .map_err(|e| anyhow::anyhow!("zipf: {e}"))?;
    let cpu_before = loadtest::cpu::Snapshot::take(&args.watch_cpu);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_secs);
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let (committer, shared, run_id) = (committer.clone(), shared.clone(), run_id.clone());
        let redeem_percent = args.redeem_percent;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(client as u64);
            let mut tally = Tally {
                latency: Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
                ..Tally::default()
            };
            let mut n = 0_u64;
            while Instant::now() < deadline {
                let (counters, cards) = &*shared;
                let counter = &counters[rng.gen_range(0..counters.len())];
                let rank = zipf.sample(&mut rng) as usize;
                let card = &cards[rank.saturating_sub(1).min(cards.len() - 1)];
                let key = format!("lb-{run_id}-{client}-{n}");
                n += 1;
                let at = PointOfSale {
                    partner_id: PartnerId(counter.partner_id),
                    branch_id: BranchId(counter.branch_id),
                    member_id: MemberId(card.member_id),
                    card: card.number.clone(),
                    reference: key.clone(),
                    idempotency_key: Some(key.clone()),
                };
                let op = if rng.gen_range(0..100) < redeem_percent {
                    LedgerOp::Redeem(PricedRedemption {
                        at,
                        points: Points(10),
                        discount: Money::new(10 * counter.point_value_minor, counter.currency),
                        hold: None,
                    })
                } else {
                    LedgerOp::Earn(PricedEarn {
                        at,
                        points: Points(40),
                        capped: Vec::new(),
                        amount: Money::new(40 * counter.per_amount_minor, counter.currency),
                        release_at: None,
                        occurred_at: None,
                        offers: Vec::new(),
                        repeat_visits: Vec::new(),
                        first_purchase: Vec::new(),
                    })
                };
                let scope = Scope::of_request(
                    PartnerId(counter.partner_id),
                    IdempotencyKey::parse(&key).expect("bench keys are printable ASCII"),
                    "POST",
                    "/ledger-bench",
                    None,
                    key.as_bytes(),
                );
                let sent = Instant::now();
                match committer.submit(scope, Ok(op)).await {
                    Ok(answered) if !answered.is_replay => match answered.answer {
                        Answer::Done(_) => tally.committed += 1,
                        _ => tally.refused += 1,
                    },
                    _ => tally.failed += 1,
                }
                if let Some(h) = tally.latency.as_mut() {
                    let _ = h.record(sent.elapsed().as_micros().max(1) as u64);
                }
            }
            tally
        }));
    }
    let mut total = Tally {
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
        ..Tally::default()
    };
    for task in tasks {
        let tally = task.await?;
        total.committed += tally.committed;
        total.refused += tally.refused;
        total.failed += tally.failed;
        if let (Some(all), Some(one)) = (total.latency.as_mut(), tally.latency.as_ref()) {
            all.add(one)?;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_per_operation = cpu_before.per_request(
        &loadtest::cpu::Snapshot::take(&args.watch_cpu),
        total.committed + total.refused,
    );

    // Exactness: every committed answer is one transfer of this run, and nothing else is.
    let in_ledger: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM transfers WHERE idempotency_key LIKE $1 AND code IN ('earn', 'redeem')",
    )
    .bind::<Text, _>(format!("lb-{run_id}-%"))
    .get_result(&mut *storage.db().await?)
    .await?;
    let is_exact = u64::try_from(in_ledger.count).ok() == Some(total.committed);

    let rendered = metrics.render();
    let metric = |name: &str| -> f64 {
        rendered
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let batches = metric("ledger_batch_size_count");
    let mean_batch = metric("ledger_batch_size_sum") / batches.max(1.0);
    let mean_commit_ms = 1000.0 * metric("ledger_commit_seconds_sum") / batches.max(1.0);
    let answered = total.committed + total.refused;
    let per_second = answered as f64 / elapsed;
    let ratio = args.baseline_tps.map(|b| per_second / b);
    let pct = |q: f64| {
        total
            .latency
            .as_ref()
            .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
    };
    let report = serde_json::json!({
        "label": args.label,
        "machine": loadtest::report::machine(),
        "clients": args.clients,
        "seconds": elapsed,
        "committers": args.committers,
        "batch_window_us": args.batch_window_us,
        "batch_max": args.batch_max,
        "operations_per_second": per_second,
        "committed": total.committed,
        "refused": total.refused,
        "failed": total.failed,
        "latency_ms": { "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0) },
        "batches": batches,
        "mean_batch_size": mean_batch,
        "mean_batch_ms": mean_commit_ms,
        "baseline_tps": args.baseline_tps,
        "ratio_to_baseline": ratio,
        "exact": is_exact,
        "transfers_in_ledger": in_ledger.count,
        "cpu_us_per_operation": cpu_per_operation,
    });
    let markdown = format!(
        "# Ledger core: {label}\n\n\
         - {machine}; committer driven directly (no HTTP, no signatures), {clients} submitters, {secs:.1} s\n\
         - {committers} committer(s), batch window {window} µs, batches up to {max}\n\n\
         | operations/s | ratio to baseline | p50 ms | p99 ms | batches | mean batch | mean batch time ms | refused | failed |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {per_second:.0} | {ratio} | {p50:.2} | {p99:.2} | {batches:.0} | {mean_batch:.1} | {mean_commit_ms:.2} | {refused} | {failed} |\n\n\
         Exactness: {exact} ({committed} committed answers, {in_ledger} transfers of this run in the ledger).\n\n\
         CPU per operation, µs (from /proc; `loadtest` is this process: submitters and committers): {cpu}.\n",
        label = args.label,
        machine = loadtest::report::machine(),
        clients = args.clients,
        secs = elapsed,
        committers = args.committers,
        window = args.batch_window_us,
        max = args.batch_max,
        ratio = ratio.map_or("n/a".into(), |r| format!("{r:.2}×")),
        p50 = pct(0.5),
        p99 = pct(0.99),
        refused = total.refused,
        failed = total.failed,
        exact = if is_exact { "EXACT" } else { "NOT EXACT" },
        committed = total.committed,
        in_ledger = in_ledger.count,
        cpu = loadtest::cpu::describe(&cpu_per_operation),
    );
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join(&args.label);
    std::fs::write(path.with_extension("md"), &markdown)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(
        path.with_extension("json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    print!("{markdown}");
    anyhow::ensure!(is_exact, "the ledger does not match the committed answers");
    anyhow::ensure!(total.failed == 0, "{} operations failed", total.failed);
    Ok(())
}
