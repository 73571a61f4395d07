\set m random(1, 1000000)
\set p random(1, 10)
BEGIN;
UPDATE members  SET balance = balance - 10 WHERE id = :m AND balance >= 10;
UPDATE partners SET balance = balance + 10 WHERE id = :p;
INSERT INTO entries(member_id, partner_id, amount) VALUES (:m, :p, 10);
COMMIT;
