-- The member of staff who made a transfer at a page (a cashier at the POS); NULL for a partner's
-- system and for the gateway's own transfers. Written with the transfer, never changed.
ALTER TABLE transfers ADD COLUMN staff_id uuid REFERENCES staff (id);
