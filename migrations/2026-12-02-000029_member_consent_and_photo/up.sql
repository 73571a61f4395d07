-- When a member agreed to be sent messages (offers, news); NULL while they have not, or since
-- they withdrew. Asked at enrolment and changed in the member portal (docs/pages.md).
ALTER TABLE members ADD COLUMN messages_consent_at timestamptz;

-- A member's photo, shown to the cashier at a card check so nobody uses someone else's card.
-- Personal data: sealed like the rest (XChaCha20-Poly1305 under the member-data key, bound to
-- the member and to its purpose), one per member, replaced when a new one is taken.
CREATE TABLE member_photos (
    member_id   uuid PRIMARY KEY REFERENCES members (id),
    media_type  text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png', 'image/webp')),
    sealed      bytea NOT NULL,
    updated_at  timestamptz NOT NULL
);
