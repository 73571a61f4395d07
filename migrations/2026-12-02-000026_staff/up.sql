-- Staff accounts: the people who sign in to the pages (docs/staff.md). One role each; a
-- partner's staff name their partner, a cashier's or branch manager's their branches. Accounts
-- are disabled, never deleted (the audit log names them).
CREATE TABLE staff (
    id             uuid PRIMARY KEY,
    login          text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9._@-]{3,64}$'),
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('operator_admin', 'operator_finance',
                       'operator_marketing', 'operator_support', 'partner_admin',
                       'partner_finance', 'branch_manager', 'cashier')),
    partner_id     uuid REFERENCES partners (id),
    branch_ids     uuid[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL,
    CHECK ((role LIKE 'operator_%') = (partner_id IS NULL)),
    CHECK ((role IN ('branch_manager', 'cashier')) = (cardinality(branch_ids) > 0))
);
