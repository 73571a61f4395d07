-- When a member asked (in the member portal) to close their account; the operator closes it
-- (their points and history are kept in the ledger). NULL while they have not asked.
ALTER TABLE members ADD COLUMN close_requested_at timestamptz;
