-- Delivery: each outbox message's state (queued, sending under a claim,
-- retrying at next_at, sent, dead) and every attempt at delivering it
-- (n counts the attempts since the message was queued or re-driven).
ALTER TABLE outbox ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN connector TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN provider_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claim_owner TEXT NOT NULL DEFAULT '';
UPDATE outbox SET status = 'sent' WHERE sent_at IS NOT NULL;
DROP INDEX outbox_pending;
-- What a dispatcher claims: messages not yet sent or dead, per channel, by
-- when they are due (next_at is 0 for queued ones, the claim's end for
-- sending ones).
CREATE INDEX outbox_due ON outbox (channel, next_at, id) WHERE status IN ('queued', 'retrying', 'sending');
CREATE INDEX outbox_status ON outbox (status, id);

CREATE TABLE outbox_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id   INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    connector   TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    duration    INTEGER NOT NULL,
    provider_id TEXT    NOT NULL
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (outbox_id, id);
