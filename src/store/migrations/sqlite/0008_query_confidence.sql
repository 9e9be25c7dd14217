-- Confidence and assumptions of an answer (issue 14): how sure the generator
-- was (`high`, `medium`, `low`; NULL for records written before this
-- migration or for asks that produced no SQL) and what it took for granted
-- (a JSON array of {code, message}).
ALTER TABLE queries ADD COLUMN confidence TEXT;
ALTER TABLE queries ADD COLUMN assumptions_json TEXT NOT NULL DEFAULT '[]';
