-- A leaner transfers table: each insert maintained nine indexes and checked five foreign keys,
-- a lookup and a row lock per key per transfer (docs/BENCHMARKS.md measures what this saves).
--
-- Nothing reads transfers by debit or credit account: the ledger check scans the table whole,
-- statements read by partner, histories by member. Accounts are never deleted, so the foreign
-- keys to them need no index on this side.
DROP INDEX transfers_debit_idx;
DROP INDEX transfers_credit_idx;

-- The member, partner and branch columns describe where a transfer happened; the accounts it
-- moves (whose foreign keys stay) are what the ledger is. Members, partners and branches are
-- never deleted, and the committer takes their ids from the rows it read, so the checks only
-- cost a lookup and a shared lock on the partner's row for every transfer of every batch.
ALTER TABLE transfers
    DROP CONSTRAINT transfers_member_id_fkey,
    DROP CONSTRAINT transfers_partner_id_fkey,
    DROP CONSTRAINT transfers_branch_id_fkey;
