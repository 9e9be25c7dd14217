-- Training integrity (issue 13): who approved an item, and a fast lookup of
-- everything one author taught (an admin can list and revert it).
ALTER TABLE training_items ADD COLUMN approved_by TEXT;
CREATE INDEX training_created_by ON training_items (created_by);
