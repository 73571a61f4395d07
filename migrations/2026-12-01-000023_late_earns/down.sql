DROP TABLE late_earns;
DROP FUNCTION late_earns_are_immutable();
