DROP TABLE point_rules;
