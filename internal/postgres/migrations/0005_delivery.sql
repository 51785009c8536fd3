-- Delivery: each outbox message's state (queued, sending under a claim,
-- retrying at next_at, sent, dead) and every attempt at delivering it
-- (n counts the attempts since the message was queued or re-driven).
ALTER TABLE outbox ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN status text COLLATE "C" NOT NULL DEFAULT 'queued';
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_at bigint NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error bytea NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN connector text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN provider_id bytea NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claim_owner text COLLATE "C" NOT NULL DEFAULT '';
UPDATE outbox SET status = 'sent' WHERE sent_at IS NOT NULL;
DROP INDEX outbox_pending;
-- What a dispatcher claims: messages not yet sent or dead, per channel, by
-- when they are due (next_at is 0 for queued ones, the claim's end for
-- sending ones).
CREATE INDEX outbox_due ON outbox (channel, next_at, id) WHERE status IN ('queued', 'retrying', 'sending');
CREATE INDEX outbox_status ON outbox (status, id);

-- Error texts and provider ids come from providers, so bytea.
CREATE TABLE outbox_attempts (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint  NOT NULL,
    n           integer NOT NULL,
    at          bigint  NOT NULL,
    connector   text    COLLATE "C" NOT NULL,
    outcome     text    COLLATE "C" NOT NULL,
    error       bytea   NOT NULL,
    code        bytea   NOT NULL,
    duration    bigint  NOT NULL,
    provider_id bytea   NOT NULL
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (outbox_id, id);
