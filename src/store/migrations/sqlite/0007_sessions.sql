-- Sessions and sign-in (issue 13).
--
-- `token_epoch`: access tokens carry the epoch they were issued under and are
-- refused once it moved on. Logout, disabling a user and an admin's revoke
-- bump it, so every replica refuses the old tokens on their next request
-- (authentication already reads the user row per request).
-- `lockout_epoch`: part of the login-failure counter keys; `insight user
-- unlock NAME` bumps it, which forgets every counted failure of that user,
-- in Redis or in any process, without having to reach them.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN lockout_epoch BIGINT NOT NULL DEFAULT 0;
