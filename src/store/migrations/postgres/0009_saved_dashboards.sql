-- Saved questions and dashboards (issue 18). A saved question is an answer a
-- user kept: the question, its SQL, the connection and the chart chosen for
-- it; it belongs to that user. A dashboard pins saved questions of its owner
-- in order. Either may carry a share token: a signed-in user who opens the
-- link gets fresh rows run under their own grant, never the owner's.
CREATE TABLE saved_questions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    question    TEXT NOT NULL,
    sql         TEXT NOT NULL,
    connection  TEXT NOT NULL,
    chart       TEXT NOT NULL DEFAULT 'auto',
    share_token TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX saved_questions_user ON saved_questions (user_id, updated_at DESC);

CREATE TABLE dashboards (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    share_token TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX dashboards_user ON dashboards (user_id, updated_at DESC);

CREATE TABLE dashboard_tiles (
    dashboard_id TEXT NOT NULL REFERENCES dashboards (id) ON DELETE CASCADE,
    saved_id     TEXT NOT NULL REFERENCES saved_questions (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    PRIMARY KEY (dashboard_id, saved_id)
);
