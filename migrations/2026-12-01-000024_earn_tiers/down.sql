DROP TABLE earn_tiers;
DROP FUNCTION earn_tiers_are_immutable();
