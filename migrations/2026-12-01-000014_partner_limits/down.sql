ALTER TABLE partners DROP COLUMN max_points_per_operation, DROP COLUMN max_purchase_minor;
