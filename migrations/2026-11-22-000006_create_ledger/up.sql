-- The points ledger: double-entry, append-only, shaped like TigerBeetle's model.
-- See docs/ledger.md for the accounts, transfer codes and state machines.

-- Accounts with their balance projection (updated in the same transaction as the transfers).
-- Member accounts may never go below zero: debits, posted and pending, never exceed posted credits.
CREATE TABLE accounts (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('member', 'partner_issuance', 'partner_redemption',
                                                   'breakage', 'promotions', 'adjustments')),
    member_id        uuid REFERENCES members (id),
    partner_id       uuid REFERENCES partners (id),
    debits_posted    bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted   bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending   bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending  bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'member') = (member_id IS NOT NULL)),
    CHECK ((kind IN ('partner_issuance', 'partner_redemption')) = (partner_id IS NOT NULL)),
    CONSTRAINT member_balance_never_negative
        CHECK (kind <> 'member' OR debits_posted + debits_pending <= credits_posted)
);
CREATE UNIQUE INDEX accounts_member_idx ON accounts (member_id) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_partner_idx ON accounts (partner_id, kind) WHERE partner_id IS NOT NULL;

-- The operator's own accounts, with fixed ids.
INSERT INTO accounts (id, kind) VALUES
    ('00000000-0000-7000-8000-000000000001', 'breakage'),
    ('00000000-0000-7000-8000-000000000002', 'promotions'),
    ('00000000-0000-7000-8000-000000000003', 'adjustments');

-- Transfers: immutable. `phase` says how a transfer moves balances:
--   single  posts at once;       pending  reserves (a hold, or an earn not yet released);
--   post    posts a pending one (all or part); void  releases a pending one.
CREATE TABLE transfers (
    id                 uuid PRIMARY KEY,
    debit_account_id   uuid NOT NULL REFERENCES accounts (id),
    credit_account_id  uuid NOT NULL REFERENCES accounts (id),
    amount             bigint NOT NULL CHECK (amount > 0),
    code               text NOT NULL CHECK (code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal',
                                                     'expiry', 'bonus', 'adjustment')),
    phase              text NOT NULL CHECK (phase IN ('single', 'pending', 'post', 'void')),
    pending_id         uuid REFERENCES transfers (id),
    reverses_id        uuid REFERENCES transfers (id),
    member_id          uuid REFERENCES members (id),
    partner_id         uuid REFERENCES partners (id),
    branch_id          uuid REFERENCES branches (id),
    card_number        text,
    partner_reference  text CHECK (length(partner_reference) BETWEEN 1 AND 100),
    idempotency_key    text,
    money_minor        bigint CHECK (money_minor >= 0),
    currency           text CHECK (currency ~ '^[A-Z]{3}$'),
    timeout_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((phase IN ('post', 'void')) = (pending_id IS NOT NULL)),
    CHECK ((phase = 'pending') = (timeout_at IS NOT NULL)),
    CHECK ((code IN ('earn_reversal', 'redeem_reversal')) = (reverses_id IS NOT NULL))
);
-- A pending transfer is resolved (posted or voided) at most once.
CREATE UNIQUE INDEX transfers_pending_id_idx ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- One transfer per partner request: a retried request can never add a second one.
CREATE UNIQUE INDEX transfers_idempotency_idx ON transfers (partner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- A partner's order reference identifies one earn and one redemption.
CREATE UNIQUE INDEX transfers_reference_idx ON transfers (partner_id, code, partner_reference)
    WHERE phase IN ('single', 'pending') AND code IN ('earn', 'redeem');
CREATE INDEX transfers_partner_idx ON transfers (partner_id, id);
CREATE INDEX transfers_member_idx ON transfers (member_id, id);
CREATE INDEX transfers_reverses_idx ON transfers (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id);

CREATE FUNCTION transfers_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transfers are append-only: a correction is a new transfer';
END $$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_are_immutable();

-- Open pending transfers (holds and unreleased earns): a projection, removed when resolved.
CREATE TABLE pending_transfers (
    transfer_id  uuid PRIMARY KEY REFERENCES transfers (id),
    timeout_at   timestamptz NOT NULL
);
CREATE INDEX pending_transfers_timeout_idx ON pending_transfers (timeout_at);

-- Earned points in lots, each with its expiry; spending consumes the oldest lots first.
CREATE TABLE earn_lots (
    id                 uuid PRIMARY KEY REFERENCES transfers (id),
    member_account_id  uuid NOT NULL REFERENCES accounts (id),
    amount             bigint NOT NULL CHECK (amount > 0),
    remaining          bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    earned_at          timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL
);
CREATE INDEX earn_lots_open_idx ON earn_lots (member_account_id, expires_at, id) WHERE remaining > 0;

-- Which lots each transfer took points from (positive) or gave back to (negative).
CREATE TABLE lot_allocations (
    transfer_id  uuid NOT NULL REFERENCES transfers (id),
    lot_id       uuid NOT NULL REFERENCES earn_lots (id),
    amount       bigint NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (transfer_id, lot_id)
);
CREATE INDEX lot_allocations_lot_idx ON lot_allocations (lot_id);
