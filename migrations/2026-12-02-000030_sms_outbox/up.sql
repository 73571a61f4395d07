-- Text messages waiting to be sent, and sent: written in the transaction of what asks for them,
-- sent by the dispatcher through the configured provider (docs/pages.md, "Messages"). The
-- recipient and the text are personal data: sealed together under the member-data key, bound to
-- the message's id. A message not sent by `not_after` (a sign-in code that has lapsed) is not
-- sent at all.
CREATE TABLE sms_outbox (
    id                   uuid PRIMARY KEY,
    member_id            uuid NOT NULL REFERENCES members (id),
    purpose              text NOT NULL CHECK (purpose IN ('sign_in_code')),
    sealed               bytea NOT NULL,
    created_at           timestamptz NOT NULL,
    not_after            timestamptz NOT NULL,
    attempts             integer NOT NULL DEFAULT 0,
    last_error           text,
    sent_at              timestamptz,
    provider             text,
    provider_message_id  text
);
CREATE INDEX sms_outbox_unsent_idx ON sms_outbox (created_at) WHERE sent_at IS NULL;
