-- The durable job queue. A worker claims a job by taking a lease
-- (`locked_by`, `locked_until`); a worker that dies stops renewing it and the
-- job is claimed again once the lease has run out. `dedupe_key` makes
-- enqueueing idempotent: a second job with the same key is not created
-- (scheduled runs use `kind@time` keys, so replicas enqueue each run once).
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at       TEXT NOT NULL,
    locked_by    TEXT,
    locked_until TEXT,
    last_error   TEXT,
    result       TEXT,
    dedupe_key   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT
);
CREATE INDEX jobs_ready ON jobs (status, run_at);
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key);
