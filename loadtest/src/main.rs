//! `loadtest`: drives a running gateway as the demo partners.
//!
//! Every request is signed and every receipt verified, exactly as a real partner
//! would; members are drawn with Zipf popularity from the demo cards. Closed loop
//! (`--clients N`) or open loop (`--rate R` requests/s, latency measured from the
//! scheduled start so a slow server cannot hide its queueing). It never runs in
//! `cargo test`; `make bench` runs it against a URL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use partners::client::{Client, ClientOptions};
use partners::jwk::Jwk;
use rand::SeedableRng as _;

use loadtest::cpu::{Snapshot, Watched};
use loadtest::report::{Recorder, Report};
use loadtest::workload::{self, Members, Mix, Till};

#[derive(Parser)]
#[command(
    name = "loadtest",
    about = "Drive a clubgate gateway as the demo partners"
)]
struct Args {
    /// The gateway.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    url: url::Url,
    /// CA certificate to trust (the development CA of `make run`).
    #[arg(long, default_value = ".data/tls/ca.pem")]
    ca_cert: PathBuf,
    /// Private JWKs of the partners to act as.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "keys/dev/hotel.jwk,keys/dev/tour-agency.jwk,keys/dev/restaurant.jwk"
    )]
    keys: Vec<PathBuf>,
    /// Closed loop: this many clients, each sending its next request when the last is answered.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Open loop: this many requests per second in total (overrides --clients for pacing).
    #[arg(long)]
    rate: Option<u64>,
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Operation mix: `default`, `redeem`, `read`, `whoami`, or e.g. `check=40,earn=20,redeem=40`.
    #[arg(long, default_value = "default")]
    mix: String,
    /// Demo members to draw from (cards of `clubgate demo load`).
    #[arg(long, default_value_t = 1000)]
    members: u64,
    #[arg(long, default_value = "6037")]
    card_prefix: String,
    /// Zipf exponent of member popularity (higher: more skewed).
    #[arg(long, default_value_t = 1.1)]
    zipf: f64,
    /// The baseline's TPS measured in the same run (pgbench), to report the ratio.
    #[arg(long)]
    baseline_tps: Option<f64>,
    /// Skip the exactness check.
    #[arg(long)]
    no_check: bool,
    /// Where report.json, report.md and latency.svg go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Name of the run in the report.
    #[arg(long, default_value = "clubgate")]
    label: String,
    /// Processes whose CPU per request to report, e.g. `gateway=1234,postgres=999` (with their
    /// children); the load generator's own is always reported.
    #[arg(long, value_delimiter = ',')]
    watch_cpu: Vec<Watched>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mix: Mix = args.mix.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let ca = std::fs::read(&args.ca_cert)
        .with_context(|| format!("cannot read {}", args.ca_cert.display()))?;
    let mut tills: Vec<Till> = Vec::new();
    for path in &args.keys {
        let key = Jwk::read(path)?.private_key()?;
        // One HTTP client and one decoded key set for the process; each till signs with its key.
        let client = match tills.first() {
            Some(first) => first.client.for_key(key),
            None => {
                let options = ClientOptions {
                    gateway_url: args.url.clone(),
                    key,
                    ca_certificate_pem: Some(ca.clone()),
                    gateway_keys: None,
                };
                Client::connect(options).await.context("connecting")?
            }
        };
        tills.push(Till::learn(client).await?);
    }
    let tills = Arc::new(tills);
    let members = Arc::new(Members::demo(&args.card_prefix, args.members, args.zipf)?);
    let mix = Arc::new(mix);
    // Exactly the run: transfers of an earlier run must not count as unexpected.
    let since = chrono::Utc::now();
    let cpu_before = Snapshot::take(&args.watch_cpu);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_secs);
    eprintln!(
        "loadtest: {} for {} s against {} ({} partners, {} members)",
        args.rate.map_or(
            format!("{} clients, closed loop", args.clients),
            |r| format!("{r} req/s, open loop")
        ),
        args.duration_secs,
        args.url,
        tills.len(),
        args.members
    );

    let workers = match args.rate {
        None => args.clients,
        // Open loop: enough workers that a slow answer never delays the next scheduled request.
        Some(rate) => usize::try_from(rate / 10).unwrap_or(1).clamp(8, 512),
    };
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(workers as f64 / r.max(1) as f64));
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (tills, members, mix) = (tills.clone(), members.clone(), mix.clone());
        let seconds = args.duration_secs;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(worker as u64);
            let mut recorder = Recorder::new(seconds);
            let mut acks = Vec::new();
            let mut next = started
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(worker as f64 / workers as f64)
                });
            while Instant::now() < deadline {
                if interval.is_some() {
                    tokio::time::sleep_until(next.into()).await;
                }
                let scheduled = if interval.is_some() {
                    next
                } else {
                    Instant::now()
                };
                let op = mix.pick(&mut rng);
                for (op, micros, outcome) in
                    workload::run_op(op, &tills, &members, &mut acks, &mut rng).await
                {
                    // Open loop: latency counts from the scheduled start (no coordinated omission).
                    let micros = if interval.is_some() {
                        u64::try_from(scheduled.elapsed().as_micros())
                            .unwrap_or(u64::MAX)
                            .max(micros)
                    } else {
                        micros
                    };
                    recorder.record(op, micros, &outcome, started.elapsed().as_secs());
                }
                if let Some(interval) = interval {
                    next += interval;
                }
            }
            (recorder, acks)
        }));
    }
    let mut recorder = Recorder::new(args.duration_secs);
    let mut acks = Vec::new();
    for task in tasks {
        let (r, a) = task.await?;
        recorder.merge(r);
        acks.extend(a);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = Snapshot::take(&args.watch_cpu);

    let exactness = if args.no_check {
        None
    } else {
        eprintln!(
            "loadtest: checking {} acknowledged transfers against the ledger",
            acks.len()
        );
        Some(workload::check_exactness(&tills, &acks, since).await?)
    };
    let mode = args
        .rate
        .map_or(format!("closed loop, {} clients", args.clients), |r| {
            format!("open loop, {r} req/s")
        });
    let mut report = Report::build(
        &args.label,
        args.url.as_str(),
        &mode,
        &args.mix,
        &recorder,
        elapsed,
        args.members,
        args.zipf,
        exactness,
        args.baseline_tps,
    );
    report.cpu_us_per_request = cpu_before.per_request(&cpu_after, report.total.count);
    std::fs::create_dir_all(&args.out)?;
    let stem = args.out.join(&args.label);
    std::fs::write(
        stem.with_extension("json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(stem.with_extension("md"), report.markdown())?;
    std::fs::write(stem.with_extension("svg"), report.svg())?;
    println!("{}", report.markdown());
    eprintln!("loadtest: wrote {}.{{json,md,svg}}", stem.display());
    if let Some(e) = &report.exactness {
        anyhow::ensure!(
            e.is_exact(),
            "the ledger does not match the acknowledged transfers: {e:?}"
        );
    }
    Ok(())
}
