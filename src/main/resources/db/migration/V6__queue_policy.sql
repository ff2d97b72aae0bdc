-- Operator queue policy per concert (SPEC 4.12): the database is the truth, Redis only caches it, so a
-- pause survives the loss of Redis data. A NULL column means the configured default. Every change bumps
-- version; the Redis copy carries it, and a cache write never replaces a newer copy with an older one.
CREATE TABLE queue_policy (
  concert_id         BIGINT      NOT NULL PRIMARY KEY,
  admit_per_tick     INT         NULL,
  max_active         INT         NULL,
  active_ttl_ms      BIGINT      NULL,
  waiting_timeout_ms BIGINT      NULL,
  version            BIGINT      NOT NULL,
  updated_at         DATETIME(6) NOT NULL,
  CONSTRAINT fk_queue_policy_concert FOREIGN KEY (concert_id) REFERENCES concert (id)
) ENGINE = InnoDB;
