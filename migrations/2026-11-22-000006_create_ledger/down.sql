DROP TABLE lot_allocations;
DROP TABLE earn_lots;
DROP TABLE pending_transfers;
DROP TABLE transfers;
DROP FUNCTION transfers_are_immutable();
DROP TABLE accounts;
