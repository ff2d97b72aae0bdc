-- Scheduled on-sale (SPEC 14, issue 17). The schedule and the draw's seed live here, not only in Redis, so
-- both survive the loss of Redis data (the spirit of SPEC 4.12): Redis caches the times (versioned), and the
-- seed never leaves the database and the service until the opening reveals it.
CREATE TABLE concert_sale (
  concert_id        BIGINT      NOT NULL PRIMARY KEY,
  prequeue_opens_at DATETIME(6) NOT NULL,
  opens_at          DATETIME(6) NOT NULL,
  -- Drawn once (SecureRandom, 32 bytes, lowercase hex) when the pre-queue opens; secret until opened_at.
  seed              CHAR(64)    NULL,
  -- SHA-256 of the seed's bytes (lowercase hex): published from the moment the seed is drawn.
  commitment        CHAR(64)    NULL,
  drawn_at          DATETIME(6) NULL,
  -- Written once, by the one instance whose admission step froze the cohort at the opening.
  cohort_size       BIGINT      NULL,
  opened_at         DATETIME(6) NULL,
  -- Grows with every change of the times; the Redis copy carries it (a newer copy is never replaced by an older).
  version           BIGINT      NOT NULL,
  CONSTRAINT fk_concert_sale_concert FOREIGN KEY (concert_id) REFERENCES concert (id),
  CONSTRAINT ck_concert_sale_times CHECK (prequeue_opens_at < opens_at)
) ENGINE = InnoDB;

-- SPEC 4.13: a concert may set its own limit of seats per user (NULL: booking.reservation.max-tickets-per-user).
ALTER TABLE concert ADD COLUMN max_tickets_per_user INT NULL;

-- SPEC 4.13: held plus paid seats per user and concert. A hold raises it with one conditional upsert in the hold's
-- transaction (which also serialises one user's holds of one concert); a cancel, a refund or an expiry lowers it.
-- refused: whether the last attempt was refused at the limit (how the upsert reports it, see booking.PurchaseLimits).
CREATE TABLE ticket_count (
  user_id    BIGINT  NOT NULL,
  concert_id BIGINT  NOT NULL,
  tickets    INT     NOT NULL,
  refused    TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, concert_id),
  CONSTRAINT ck_ticket_count CHECK (tickets >= 0)
) ENGINE = InnoDB;

-- Seats held (expired or not: the sweeper lowers the count when it marks them) or paid before this version.
INSERT INTO ticket_count (user_id, concert_id, tickets)
SELECT user_id, concert_id, COUNT(*) FROM reservation WHERE status IN ('HELD', 'PAID') GROUP BY user_id, concert_id;

-- The operator's message to a queue's fans (SPEC 3, at most 280 characters; NULL: none), cached with the policy.
ALTER TABLE queue_policy ADD COLUMN message VARCHAR(280) NULL;
