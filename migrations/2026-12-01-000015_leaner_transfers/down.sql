ALTER TABLE transfers
    ADD CONSTRAINT transfers_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id),
    ADD CONSTRAINT transfers_partner_id_fkey FOREIGN KEY (partner_id) REFERENCES partners (id),
    ADD CONSTRAINT transfers_branch_id_fkey FOREIGN KEY (branch_id) REFERENCES branches (id);
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id);
