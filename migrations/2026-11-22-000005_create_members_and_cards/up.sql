-- Members and their club cards. Personal data is encrypted by the gateway (XChaCha20-Poly1305,
-- bound to the member id); `phone_lookup` is a keyed hash (HMAC-SHA256) for exact lookups.
CREATE TABLE members (
    id                   uuid PRIMARY KEY,
    phone_lookup         bytea NOT NULL UNIQUE CHECK (length(phone_lookup) = 32),
    personal_data        bytea NOT NULL,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    enrolled_by_partner  uuid NOT NULL REFERENCES partners (id),
    enrolled_at_branch   uuid NOT NULL REFERENCES branches (id),
    enrolled_at          timestamptz NOT NULL DEFAULT now()
);

-- A member holds one active card at a time; a lost card is replaced by a new number that keeps
-- the member (and so the balance and history).
CREATE TABLE cards (
    number             text PRIMARY KEY CHECK (number ~ '^[0-9]{16}$'),
    member_id          uuid NOT NULL REFERENCES members (id),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked', 'lost')),
    replaced_by        text REFERENCES cards (number),
    issued_at          timestamptz NOT NULL DEFAULT now(),
    status_changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_member_id_idx ON cards (member_id);
CREATE UNIQUE INDEX cards_one_active_per_member_idx ON cards (member_id) WHERE status = 'active';
