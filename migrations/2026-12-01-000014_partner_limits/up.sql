-- A partner's own bounds on one operation; NULL takes the programme's (program.max_purchase_minor,
-- program.max_points_per_operation). Nullable columns without a default: no table rewrite.
ALTER TABLE partners
    ADD COLUMN max_purchase_minor BIGINT CHECK (max_purchase_minor > 0),
    ADD COLUMN max_points_per_operation BIGINT CHECK (max_points_per_operation > 0);
