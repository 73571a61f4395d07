DROP TABLE earn_rule_points;
