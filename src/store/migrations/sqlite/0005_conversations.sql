-- Conversations on /api/v1/ask: a follow-up question is rewritten into a
-- standalone one from the previous turns. A conversation belongs to the user
-- who started it. `query_id` names the history record of the turn; no foreign
-- key, so history cleanup never has to wait for conversations.
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    user_id    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX conversations_user ON conversations (user_id, updated_at DESC);

CREATE TABLE conversation_turns (
    conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    query_id            TEXT,
    question            TEXT NOT NULL,
    standalone_question TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
