-- Branches: the places a partner serves members (a hotel desk, a restaurant till).
CREATE TABLE branches (
    id          uuid PRIMARY KEY,
    partner_id  uuid NOT NULL REFERENCES partners (id),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    city        text CHECK (length(city) BETWEEN 1 AND 100),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (partner_id, code)
);
