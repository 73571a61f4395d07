//! The ledger's invariants, recomputed from the transfers (`clubgate check`, and
//! after every integration test):
//!
//! 1. every account's balance projection equals the one recomputed from its transfers;
//! 2. all balances sum to zero (posted and pending alike);
//! 3. no member account is below zero;
//! 4. no original is reversed by more than it posted;
//! 5. every member's lots hold exactly the points the member can spend, and
//!    every lot's allocations explain exactly what it has lost;
//! 6. the open pending transfers are exactly the unresolved pending ones;
//! 7. every transfer a partner request made has that request's answer recorded
//!    (so a retry returns it instead of making a second transfer);
//! 8. every account's lifetime earned points match its earns less their reversals;
//! 9. every member's activity per day (tiers' measures) matches their earns and reversals by
//!    local day in the programme's zone.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl as _;

use super::{Storage, StorageError};

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    /// Accounts checked.
    pub accounts: i64,
    /// Transfers checked.
    pub transfers: i64,
    /// One line per violation; empty when the ledger is exact.
    pub violations: Vec<String>,
}

impl LedgerReport {
    /// Whether every invariant holds.
    pub fn is_exact(&self) -> bool {
        self.violations.is_empty()
    }
}

#[derive(QueryableByName)]
struct Violation {
    #[diesel(sql_type = Text)]
    violation: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const CHECKS: &[&str] = &[
    // 1. Projections against transfers.
    "WITH moves AS (
         SELECT debit_account_id AS account, amount AS debits_posted, 0::bigint AS credits_posted,
                0::bigint AS debits_pending, 0::bigint AS credits_pending
           FROM transfers WHERE phase IN ('single', 'post')
         UNION ALL
         SELECT credit_account_id, 0, amount, 0, 0 FROM transfers WHERE phase IN ('single', 'post')
         UNION ALL
         SELECT debit_account_id, 0, 0, amount, 0 FROM transfers p
          WHERE phase = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
         UNION ALL
         SELECT credit_account_id, 0, 0, 0, amount FROM transfers p
          WHERE phase = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
     ), recomputed AS (
         SELECT account, sum(debits_posted) AS dp, sum(credits_posted) AS cp,
                sum(debits_pending) AS dq, sum(credits_pending) AS cq
           FROM moves GROUP BY account
     )
     SELECT format('account %s projects %s/%s/%s/%s but its transfers give %s/%s/%s/%s', a.id,
                   a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
                   coalesce(r.dp, 0), coalesce(r.cp, 0), coalesce(r.dq, 0), coalesce(r.cq, 0)) AS violation
       FROM accounts a LEFT JOIN recomputed r ON r.account = a.id
      WHERE (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
            IS DISTINCT FROM (coalesce(r.dp, 0), coalesce(r.cp, 0), coalesce(r.dq, 0), coalesce(r.cq, 0))",
    // 2. Zero sum.
    "SELECT format('balances do not sum to zero: posted %s, pending %s',
                   sum(credits_posted - debits_posted), sum(credits_pending - debits_pending)) AS violation
       FROM accounts
     HAVING sum(credits_posted - debits_posted) <> 0 OR sum(credits_pending - debits_pending) <> 0",
    // 3. No member below zero.
    "SELECT format('member account %s is below zero: %s posted, %s held', id,
                   credits_posted - debits_posted, debits_pending) AS violation
       FROM accounts WHERE kind = 'member' AND debits_posted + debits_pending > credits_posted",
    // 4. Reversals within their original.
    "SELECT format('transfer %s is reversed by %s but posted %s', o.id, sum(r.amount),
                   coalesce(post.amount, CASE WHEN o.phase = 'single' THEN o.amount ELSE 0 END)) AS violation
       FROM transfers r
       JOIN transfers o ON o.id = r.reverses_id
       LEFT JOIN transfers post ON post.pending_id = o.id AND post.phase = 'post'
      GROUP BY o.id, o.phase, o.amount, post.amount
     HAVING sum(r.amount) > coalesce(post.amount, CASE WHEN o.phase = 'single' THEN o.amount ELSE 0 END)",
    // 5a. Lots hold what the member can spend.
    "SELECT format('member account %s can spend %s but its lots hold %s', a.id,
                   a.credits_posted - a.debits_posted - a.debits_pending, coalesce(l.remaining, 0)) AS violation
       FROM accounts a
       LEFT JOIN (SELECT member_account_id, sum(remaining) AS remaining FROM earn_lots GROUP BY member_account_id) l
              ON l.member_account_id = a.id
      WHERE a.kind = 'member' AND a.credits_posted - a.debits_posted - a.debits_pending <> coalesce(l.remaining, 0)",
    // 5b. Allocations explain every lot.
    "SELECT format('lot %s lost %s points but its allocations say %s', l.id, l.amount - l.remaining,
                   coalesce(sum(x.amount), 0)) AS violation
       FROM earn_lots l LEFT JOIN lot_allocations x ON x.lot_id = l.id
      GROUP BY l.id, l.amount, l.remaining
     HAVING l.amount - l.remaining <> coalesce(sum(x.amount), 0)",
    // 6. Open pending transfers.
    "SELECT format('pending transfer %s is unresolved but not open', p.id) AS violation
       FROM transfers p
      WHERE p.phase = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
        AND NOT EXISTS (SELECT 1 FROM pending_transfers o WHERE o.transfer_id = p.id)
     UNION ALL
     SELECT format('open pending transfer %s is resolved or not pending', o.transfer_id)
       FROM pending_transfers o JOIN transfers p ON p.id = o.transfer_id
      WHERE p.phase <> 'pending' OR EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id)
     UNION ALL
     SELECT format('open pending transfer %s is filed under member %s, not its own', o.transfer_id, o.member_id)
       FROM pending_transfers o JOIN transfers p ON p.id = o.transfer_id
      WHERE o.member_id IS DISTINCT FROM p.member_id",
    // 7. Every partner-made transfer has its request's answer recorded. An outcome is the JSON
    // text serde wrote (`{"done":…}` or `{"refused":…}`), so its start tells which, with no parse
    // that a `\u0000` escape inside a recorded refusal would break.
    "SELECT format('transfer %s has no completed idempotency record for key %s', t.id, t.idempotency_key) AS violation
       FROM transfers t
      WHERE t.idempotency_key IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM idempotency_records i
             WHERE i.partner_id = t.partner_id AND i.idempotency_key = t.idempotency_key
               AND i.state = 'completed'
               AND (starts_with(i.outcome::text, '{\"done\":') OR i.response_status < 300))",
    // 8. Lifetime earned points (tiers) match the member's posted earns less earn reversals.
    "WITH earned AS (
         SELECT credit_account_id AS account, amount FROM transfers
          WHERE code = 'earn' AND phase IN ('single', 'post')
         UNION ALL
         SELECT debit_account_id, -amount FROM transfers WHERE code = 'earn_reversal'
     ), totals AS (SELECT account, sum(amount) AS total FROM earned GROUP BY account)
     SELECT format('account %s projects %s lifetime points but its transfers give %s', a.id,
                   a.lifetime_earned, coalesce(t.total, 0)) AS violation
       FROM accounts a LEFT JOIN totals t ON t.account = a.id
      WHERE a.lifetime_earned <> coalesce(t.total, 0)",
];

/// 9: `member_activity` against the transfers, by local day in zone `$1` (a late earn's: the day
/// it happened).
const ACTIVITY: &str = "WITH projected AS (
         SELECT member_id, (coalesce(l.occurred_at, created_at) AT TIME ZONE $1)::date AS day,
                sum(CASE WHEN code = 'earn' THEN amount ELSE -amount END) AS points,
                sum(CASE WHEN code = 'earn' THEN coalesce(money_minor, 0)
                         ELSE -coalesce(money_minor, 0) END) AS spend_minor,
                count(*) FILTER (WHERE code = 'earn') AS visits
           FROM transfers LEFT JOIN late_earns l ON l.transfer_id = transfers.id
          WHERE member_id IS NOT NULL
            AND ((code = 'earn' AND phase IN ('single', 'post')) OR code = 'earn_reversal')
          GROUP BY 1, 2)
     SELECT format('member %s on %s: activity %s/%s/%s but transfers give %s/%s/%s',
                   coalesce(a.member_id, p.member_id), coalesce(a.day, p.day),
                   a.points, a.spend_minor, a.visits, p.points, p.spend_minor, p.visits) AS violation
       FROM member_activity a FULL JOIN projected p ON p.member_id = a.member_id AND p.day = a.day
      WHERE (a.points, a.spend_minor, a.visits) IS DISTINCT FROM (p.points, p.spend_minor, p.visits)";

/// Checks every invariant in one repeatable-read snapshot; the programme's days are `zone`'s.
pub async fn check(storage: &Storage, zone: chrono_tz::Tz) -> Result<LedgerReport, StorageError> {
    let mut conn = storage.db().await?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, StorageError, _>(async |conn| {
            let mut report = LedgerReport::default();
            for sql in CHECKS {
                let found: Vec<Violation> = diesel::sql_query(*sql).load(conn).await?;
                report
                    .violations
                    .extend(found.into_iter().map(|v| v.violation));
            }
            let found: Vec<Violation> = diesel::sql_query(ACTIVITY)
                .bind::<Text, _>(zone.name())
                .load(conn)
                .await?;
            report
                .violations
                .extend(found.into_iter().map(|v| v.violation));
            report.accounts = diesel::sql_query("SELECT count(*) AS n FROM accounts")
                .get_result::<Count>(conn)
                .await?
                .n;
            report.transfers = diesel::sql_query("SELECT count(*) AS n FROM transfers")
                .get_result::<Count>(conn)
                .await?
                .n;
            Ok(report)
        })
        .await
}
