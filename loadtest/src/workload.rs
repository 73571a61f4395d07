//! The workload: the demo partners' tills, the operation mix, and members picked
//! with a skewed (Zipf) popularity, as real coalition traffic is.

use std::collections::BTreeMap;

use anyhow::Context as _;
use partners::cards::CardNumber;
use partners::client::{Client, ClientError};
use partners::protocol::{CaptureRequest, EarnRequest, Money, RedeemRequest, ReverseRequest};
use rand::Rng as _;
use rand::distributions::Distribution as _;
use uuid::Uuid;

/// One kind of request the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Whoami,
    Check,
    Quote,
    Earn,
    Redeem,
    Hold,
    Capture,
    Reverse,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Self; 8] = [
        Self::Whoami,
        Self::Check,
        Self::Quote,
        Self::Earn,
        Self::Redeem,
        Self::Hold,
        Self::Capture,
        Self::Reverse,
    ];

    /// The name in mixes and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Whoami => "whoami",
            Self::Check => "check",
            Self::Quote => "quote",
            Self::Earn => "earn",
            Self::Redeem => "redeem",
            Self::Hold => "hold",
            Self::Capture => "capture",
            Self::Reverse => "reverse",
        }
    }
}

/// Relative weights of the operations a client picks from (`hold` is followed by its `capture`).
#[derive(Debug, Clone)]
pub struct Mix(Vec<(Op, u32)>);

impl std::str::FromStr for Mix {
    type Err = String;

    /// Parses `check=40,earn=20,redeem=15,...`, or a named mix: `default`, `redeem`, `read`.
    fn from_str(s: &str) -> Result<Self, String> {
        let spec = match s {
            "default" => "check=40,quote=10,earn=20,redeem=15,hold=10,reverse=5",
            // Earns keep the popular members' balances up, so redemptions mostly succeed.
            "redeem" => "redeem=75,earn=25",
            "read" => "check=100",
            "whoami" => "whoami=100",
            other => other,
        };
        let mut weights = Vec::new();
        for part in spec.split(',') {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected op=weight"))?;
            let op = Op::ALL
                .into_iter()
                .find(|op| op.name() == name.trim() && *op != Op::Capture)
                .ok_or_else(|| format!("unknown operation {name:?}"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: weight must be a whole number"))?;
            weights.push((op, weight));
        }
        if weights.iter().all(|(_, w)| *w == 0) {
            return Err("the mix has no weight".into());
        }
        Ok(Self(weights))
    }
}

impl Mix {
    /// Draws an operation.
    pub fn pick(&self, rng: &mut impl rand::Rng) -> Op {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut roll = rng.gen_range(0..total);
        for (op, weight) in &self.0 {
            if roll < *weight {
                return *op;
            }
            roll -= weight;
        }
        self.0[0].0
    }
}

/// A partner's till: its signing client and its branches.
#[derive(Clone)]
pub struct Till {
    pub client: Client,
    pub branches: Vec<String>,
}

impl Till {
    /// The till of the partner `client` signs for, with the branches it learns from the gateway.
    pub async fn learn(client: Client) -> anyhow::Result<Self> {
        let name = client.key_id().to_owned();
        let profile = client
            .whoami()
            .await
            .with_context(|| format!("whoami as {name}"))?
            .body;
        anyhow::ensure!(!profile.branches.is_empty(), "{name} has no branches");
        Ok(Self {
            client,
            branches: profile.branches.into_iter().map(|b| b.code).collect(),
        })
    }
}

/// A transfer the gateway acknowledged: the record the exactness check compares with the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub till: usize,
    pub id: Uuid,
    pub kind: &'static str,
    pub points: i64,
}

/// The outcome of one request.
pub enum Outcome {
    Ok,
    /// A refusal with its problem code (business refusals are expected in a random workload).
    Refused(String),
    /// No verified answer: a transport error or a receipt that did not verify.
    Failed(String),
}

fn outcome<T>(result: &Result<T, ClientError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(ClientError::Problem { problem }) => Outcome::Refused(problem.code.clone()),
        Err(other) => Outcome::Failed(other.to_string()),
    }
}

/// Picks members with Zipf popularity over the demo cards.
pub struct Members {
    cards: Vec<CardNumber>,
    zipf: rand_distr::Zipf<f64>,
}

impl Members {
    /// The demo network's first `count` cards (`prefix` + serial 1,000,000 + n).
    pub fn demo(prefix: &str, count: u64, exponent: f64) -> anyhow::Result<Self> {
        anyhow::ensure!(count > 0, "need at least one member");
        Ok(Self {
            cards: (0..count)
                .map(|n| CardNumber::from_serial(prefix, 1_000_000 + n))
                .collect(),
            zipf: rand_distr::Zipf::new(count, exponent)
                .map_err(|e| anyhow::anyhow!("zipf: {e}"))?,
        })
    }

    fn pick(&self, rng: &mut impl rand::Rng) -> &CardNumber {
        // Zipf draws 1..=count; the most popular member is the first card.
        let rank = self.zipf.sample(rng) as usize;
        &self.cards[rank.saturating_sub(1).min(self.cards.len() - 1)]
    }
}

/// Runs one operation for a client; returns (op, latency in µs, outcome) for each request sent.
pub async fn run_op(
    op: Op,
    tills: &[Till],
    members: &Members,
    acks: &mut Vec<Ack>,
    rng: &mut rand::rngs::StdRng,
) -> Vec<(Op, u64, Outcome)> {
    let till_index = rng.gen_range(0..tills.len());
    let till = &tills[till_index];
    let branch = till.branches[rng.gen_range(0..till.branches.len())].clone();
    let card = members.pick(rng).to_string();
    let key = Uuid::new_v4().to_string();
    let reference = format!("lt-{}", Uuid::new_v4().simple());
    let started = std::time::Instant::now();
    let elapsed =
        |s: std::time::Instant| u64::try_from(s.elapsed().as_micros()).unwrap_or(u64::MAX);
    match op {
        Op::Whoami => {
            let r = till.client.whoami().await;
            vec![(op, elapsed(started), outcome(&r))]
        }
        Op::Check => {
            let r = till.client.check_card(&card, Some(&branch)).await;
            vec![(op, elapsed(started), outcome(&r))]
        }
        Op::Quote => {
            let amount = Money {
                amount_minor: rng.gen_range(1..100) * 10_000_000,
                currency: "IRR".into(),
            };
            let r = till
                .client
                .quote(&branch, Some(&amount), Some(rng.gen_range(1..100)))
                .await;
            vec![(op, elapsed(started), outcome(&r))]
        }
        Op::Earn => {
            let request = EarnRequest {
                branch,
                card_number: card,
                amount: Money {
                    amount_minor: rng.gen_range(10..200) * 10_000_000,
                    currency: "IRR".into(),
                },
                reference,
                release_at: None,
                lines: Vec::new(),
                occurred_at: None,
            };
            let r = till.client.earn(&request, &key).await;
            if let Ok(receipt) = &r {
                let t = &receipt.body.transaction;
                acks.push(Ack {
                    till: till_index,
                    id: t.id,
                    kind: "earn",
                    points: t.points,
                });
            }
            vec![(op, elapsed(started), outcome(&r))]
        }
        Op::Redeem | Op::Hold => {
            let is_hold = op == Op::Hold;
            let request = RedeemRequest {
                branch,
                card_number: card,
                points: 10,
                reference,
                hold: is_hold,
                hold_timeout_secs: None,
            };
            let r = till.client.redeem(&request, &key).await;
            let mut results = vec![(op, elapsed(started), outcome(&r))];
            if let Ok(receipt) = &r {
                let t = &receipt.body.transaction;
                acks.push(Ack {
                    till: till_index,
                    id: t.id,
                    kind: "redeem",
                    points: t.points,
                });
                if is_hold {
                    let capture_started = std::time::Instant::now();
                    let capture = CaptureRequest {
                        points: Some(rng.gen_range(1..=10)),
                    };
                    let c = till
                        .client
                        .capture(t.id, &capture, &Uuid::new_v4().to_string())
                        .await;
                    if let Ok(receipt) = &c {
                        let t = &receipt.body.transaction;
                        acks.push(Ack {
                            till: till_index,
                            id: t.id,
                            kind: "redeem",
                            points: t.points,
                        });
                    }
                    results.push((Op::Capture, elapsed(capture_started), outcome(&c)));
                }
            }
            results
        }
        Op::Reverse => {
            // Reverse one point of something this client redeemed at this till, if anything.
            let candidates: Vec<&Ack> = acks
                .iter()
                .filter(|a| a.till == till_index && a.kind == "redeem")
                .collect();
            let Some(original) = candidates
                .get(rng.gen_range(0..candidates.len().max(1)))
                .copied()
                .cloned()
            else {
                return Vec::new();
            };
            let request = ReverseRequest {
                transaction_id: original.id,
                points: Some(1),
                reference: Some(reference),
            };
            let r = till.client.reverse(&request, &key).await;
            if let Ok(receipt) = &r {
                let t = &receipt.body.transaction;
                acks.push(Ack {
                    till: till_index,
                    id: t.id,
                    kind: "redeem_reversal",
                    points: t.points,
                });
            }
            vec![(op, elapsed(started), outcome(&r))]
        }
        Op::Capture => Vec::new(),
    }
}

/// Compares what the gateway acknowledged with each partner's transaction list since `since`.
pub async fn check_exactness(
    tills: &[Till],
    acks: &[Ack],
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Exactness> {
    let mut result = Exactness::default();
    for (index, till) in tills.iter().enumerate() {
        let mut listed: BTreeMap<Uuid, i64> = BTreeMap::new();
        let mut cursor: Option<Uuid> = None;
        loop {
            let query = {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                query.append_pair("limit", "500");
                query.append_pair(
                    "from",
                    &since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                );
                if let Some(c) = cursor {
                    query.append_pair("cursor", &c.to_string());
                }
                query.finish()
            };
            let page = till.client.transactions(&query).await?.body;
            for t in &page.transactions {
                if listed.insert(t.id, t.points).is_some() {
                    result.duplicated += 1;
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mine: Vec<&Ack> = acks.iter().filter(|a| a.till == index).collect();
        result.acknowledged += mine.len();
        for ack in &mine {
            match listed.remove(&ack.id) {
                Some(points) if points == ack.points => result.matched += 1,
                Some(_) => result.mismatched += 1,
                None => result.missing += 1,
            }
        }
        result.unexpected += listed.len();
    }
    Ok(result)
}

/// The exactness check's counts: exact when every acknowledged transfer is matched and nothing else exists.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exactness {
    pub acknowledged: usize,
    pub matched: usize,
    pub missing: usize,
    pub mismatched: usize,
    pub unexpected: usize,
    pub duplicated: usize,
}

impl Exactness {
    /// Every acknowledged transfer is in the ledger once, with its points, and nothing else is.
    pub fn is_exact(&self) -> bool {
        self.matched == self.acknowledged
            && self.missing + self.mismatched + self.unexpected + self.duplicated == 0
    }
}
