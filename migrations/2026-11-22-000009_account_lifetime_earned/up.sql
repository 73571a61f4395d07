-- Points a member account has earned for good (posted earns less earn reversals): what its tier
-- is computed from. A projection kept with the balance in the same transaction as the transfers,
-- so a tier lookup never sums a member's whole history.
ALTER TABLE accounts ADD COLUMN lifetime_earned bigint NOT NULL DEFAULT 0;

UPDATE accounts a
   SET lifetime_earned = t.total
  FROM (SELECT account, sum(amount) AS total
          FROM (SELECT credit_account_id AS account, amount FROM transfers
                 WHERE code = 'earn' AND phase IN ('single', 'post')
                UNION ALL
                SELECT debit_account_id, -amount FROM transfers WHERE code = 'earn_reversal') moves
         GROUP BY account) t
 WHERE a.id = t.account AND a.kind = 'member';

ALTER TABLE accounts ADD CONSTRAINT lifetime_earned_of_members_only
    CHECK (lifetime_earned >= 0 AND (kind = 'member' OR lifetime_earned = 0));
