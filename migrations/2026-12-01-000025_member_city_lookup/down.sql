ALTER TABLE members DROP COLUMN city_lookup;
