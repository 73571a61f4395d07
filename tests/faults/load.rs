//! Loops of a partner's till under a fault: earns and redemptions with a card check after each
//! (which must show exactly what the loop's acknowledged operations add up to), transaction
//! lists and enrolments beside them. Every request that gets no answer, a 5xx or "in flight" is
//! sent again with the same key and body (signed afresh), on the next gateway, until it is
//! answered. What happened is tallied for the report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use partners::client::{Client, ClientError, Receipt};
use partners::protocol::{EarnRequest, EnrollRequest, Money, RedeemRequest};
use uuid::Uuid;

use crate::network::BRANCH;

/// How long one operation may take to be answered, retries included, before the run fails.
const GIVE_UP: Duration = Duration::from_secs(90);

/// An operation the gateway acknowledged.
#[derive(Debug, Clone)]
pub struct Ack {
    pub transfer_id: Uuid,
    pub reference: String,
}

/// When the fault was on: requests sent in between count towards "served during the fault".
#[derive(Debug, Default, Clone, Copy)]
pub struct Window {
    pub from: Option<Instant>,
    pub to: Option<Instant>,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        self.from.is_some_and(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }
}

/// What the loops saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub acks: Vec<Ack>,
    /// Card checks that showed another balance than the loop's acknowledged operations make.
    pub stale_checks: Vec<String>,
    /// Answers by status and code (transport failures as status 0).
    pub answers: BTreeMap<(u16, String), u64>,
    /// Requests sent during the fault, and how many of them were served (not 5xx, not lost).
    pub during: (u64, u64),
    /// The slowest answer of a request sent during the fault.
    pub slowest_during: Duration,
    /// From the fault's end to the first request served after it.
    pub served_again_after: Option<Duration>,
    /// Operations that found no answer in time, or whose answer did not verify.
    pub failures: Vec<String>,
    /// Members enrolled.
    pub enrolled: u64,
}

/// The loops' shared state.
#[derive(Clone)]
pub struct Load {
    clients: Arc<Vec<Client>>,
    pub tally: Arc<Mutex<Tally>>,
    pub window: Arc<Mutex<Window>>,
    stop: Arc<AtomicBool>,
}

enum Answer<T> {
    Done(T),
    Refused(String),
}

impl Load {
    /// Loops over these clients (one per gateway).
    pub fn new(clients: Vec<Client>) -> Self {
        Self {
            clients: Arc::new(clients),
            tally: Arc::default(),
            window: Arc::default(),
            stop: Arc::default(),
        }
    }

    /// Starts `loops` loops; they run until [`Load::stop`].
    pub fn start(&self, loops: usize) -> Vec<tokio::task::JoinHandle<()>> {
        (0..loops)
            .map(|i| {
                let load = self.clone();
                tokio::spawn(async move { load.run_loop(i).await })
            })
            .collect()
    }

    /// Marks the fault's start.
    pub fn fault_begins(&self) {
        if let Ok(mut w) = self.window.lock() {
            w.from = Some(Instant::now());
        }
    }

    /// Marks the fault's end.
    pub fn fault_ends(&self) {
        if let Ok(mut w) = self.window.lock() {
            w.to = Some(Instant::now());
        }
    }

    /// Stops the loops after their current operation and waits for them.
    pub async fn stop(&self, loops: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        for handle in loops {
            handle
                .await
                .unwrap_or_else(|e| panic!("a loop panicked: {e}"));
        }
    }

    /// Stops the loops at once, wherever they are (the database is gone).
    pub fn abort(&self, loops: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        for handle in loops {
            handle.abort();
        }
    }

    fn record(&self, sent: Instant, status: u16, code: &str) {
        let window = self.window.lock().map(|w| *w).unwrap_or_default();
        let during = window.contains(sent);
        let served = status != 0 && status < 500;
        if let Ok(mut tally) = self.tally.lock() {
            if let Some(to) = window.to
                && served
                && sent >= to
                && tally.served_again_after.is_none()
            {
                tally.served_again_after = Some(to.elapsed());
            }
            *tally.answers.entry((status, code.to_owned())).or_default() += 1;
            if during {
                tally.during.0 += 1;
                if served {
                    tally.during.1 += 1;
                }
                tally.slowest_during = tally.slowest_during.max(sent.elapsed());
            }
        }
    }

    fn fail(&self, what: String) {
        if let Ok(mut tally) = self.tally.lock() {
            tally.failures.push(what);
        }
    }

    /// Sends `call` until it is answered: done, or refused for a reason that is not the
    /// gateway's state (a 4xx other than "in flight"). `None` if it never was.
    async fn answered<T, F, Fut>(&self, first: usize, what: &str, call: F) -> Option<Answer<T>>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<Receipt<T>, ClientError>>,
    {
        let started = Instant::now();
        let mut attempt = first;
        while started.elapsed() < GIVE_UP {
            let client = self.clients[attempt % self.clients.len()].clone();
            attempt += 1;
            let sent = Instant::now();
            match call(client).await {
                Ok(receipt) => {
                    self.record(sent, receipt.status, "");
                    return Some(Answer::Done(receipt.body));
                }
                Err(ClientError::Problem { problem }) => {
                    self.record(sent, problem.status, &problem.code);
                    let retry =
                        problem.status >= 500 || problem.code == "idempotency_request_in_flight";
                    if !retry {
                        return Some(Answer::Refused(problem.code));
                    }
                }
                Err(ClientError::Transport(_)) => self.record(sent, 0, "no_answer"),
                Err(other) => {
                    self.record(sent, 0, "unverified");
                    self.fail(format!("{what}: {other}"));
                    return None;
                }
            }
            // A client's pause between tries; the fault's length, not this, sets the test's.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.fail(format!("{what}: no answer in {} s", GIVE_UP.as_secs()));
        None
    }

    async fn run_loop(&self, i: usize) {
        let Some(Answer::Done(enrolled)) = self.enroll(i).await else {
            self.fail(format!("loop {i}: its member was not enrolled"));
            return;
        };
        let card = enrolled.card_number;
        let mut available = enrolled.bonus_points;
        let mut round = 0u64;
        while !self.stop.load(Ordering::SeqCst) {
            round += 1;
            let redeem = available >= 10 && !round.is_multiple_of(3);
            let reference = format!("fault-{}", Uuid::new_v4().simple());
            let key = Uuid::new_v4().to_string();
            let moved = if redeem {
                let request = RedeemRequest {
                    branch: BRANCH.into(),
                    card_number: card.clone(),
                    points: 10,
                    reference: reference.clone(),
                    hold: false,
                    hold_timeout_secs: None,
                };
                self.answered(i, "redeem", |c| {
                    let (request, key) = (request.clone(), key.clone());
                    async move { c.redeem(&request, &key).await }
                })
                .await
            } else {
                let request = EarnRequest {
                    branch: BRANCH.into(),
                    card_number: card.clone(),
                    amount: Money {
                        amount_minor: 100_000,
                        currency: "IRR".into(),
                    },
                    reference: reference.clone(),
                    release_at: None,
                    lines: Vec::new(),
                    occurred_at: None,
                };
                self.answered(i, "earn", |c| {
                    let (request, key) = (request.clone(), key.clone());
                    async move { c.earn(&request, &key).await }
                })
                .await
            };
            match moved {
                Some(Answer::Done(movement)) => {
                    let points = movement.transaction.points.abs();
                    available += if redeem { -points } else { points };
                    if let Ok(mut tally) = self.tally.lock() {
                        tally.acks.push(Ack {
                            transfer_id: movement.transaction.id,
                            reference,
                        });
                    }
                }
                Some(Answer::Refused(code)) => self.fail(format!("loop {i}: refused {code}")),
                None => return,
            }
            let checked = self
                .answered(i, "card check", |c| {
                    let card = card.clone();
                    async move { c.check_card(&card, None).await }
                })
                .await;
            match checked {
                Some(Answer::Done(check)) if check.balance.available != available => {
                    if let Ok(mut tally) = self.tally.lock() {
                        tally.stale_checks.push(format!(
                            "card {card}: showed {}, acknowledged {available}",
                            check.balance.available
                        ));
                    }
                }
                Some(Answer::Done(_)) => {}
                _ => self.fail(format!("loop {i}: the card check was not answered")),
            }
            if round.is_multiple_of(5) {
                let _listed = self
                    .answered(i, "transactions", |c| async move {
                        c.transactions("limit=20").await
                    })
                    .await;
            }
            if round.is_multiple_of(10)
                && matches!(self.enroll(i).await, Some(Answer::Done(_)))
                && let Ok(mut tally) = self.tally.lock()
            {
                tally.enrolled += 1;
            }
        }
    }

    async fn enroll(&self, i: usize) -> Option<Answer<partners::protocol::Enrollment>> {
        let request = EnrollRequest {
            branch: BRANCH.into(),
            phone: format!("+98912{:07}", rand_phone()),
            name: "Fault Loop".into(),
            email: None,
            birth_date: None,
            city: None,
            invite_code: None,
            consents_to_messages: false,
        };
        let key = Uuid::new_v4().to_string();
        self.answered(i, "enrol", |c| {
            let (request, key) = (request.clone(), key.clone());
            async move { c.enroll(&request, &key).await }
        })
        .await
    }
}

/// A phone number no other enrolment of this run used.
fn rand_phone() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % 10_000_000
}
