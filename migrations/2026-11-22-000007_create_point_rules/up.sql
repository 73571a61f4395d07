-- How a partner (or one of its branches, overriding the partner) turns money into points and
-- points into a discount: earn `earn_points` per `per_amount_minor` spent (rounded down), and a
-- point is worth `point_value_minor` at the till. Amounts are integers in the currency's minor unit.
CREATE TABLE point_rules (
    id                 uuid PRIMARY KEY,
    partner_id         uuid NOT NULL REFERENCES partners (id),
    branch_id          uuid REFERENCES branches (id),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    earn_points        bigint NOT NULL CHECK (earn_points >= 0),
    per_amount_minor   bigint NOT NULL CHECK (per_amount_minor > 0),
    point_value_minor  bigint NOT NULL CHECK (point_value_minor > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (partner_id, branch_id)
);
