-- All times are UTC (DATETIME(6) holding UTC wall-clock values; the application converts Instants).

CREATE TABLE venue (
  id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  CONSTRAINT uk_venue_name UNIQUE (name)
) ENGINE = InnoDB;

CREATE TABLE concert (
  id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(200)  NOT NULL,
  description VARCHAR(2000) NOT NULL DEFAULT '',
  created_at  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

CREATE TABLE concert_date (
  id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  concert_id  BIGINT      NOT NULL,
  venue_id    BIGINT      NOT NULL,
  starts_at   DATETIME(6) NOT NULL,
  total_seats INT         NOT NULL,
  CONSTRAINT fk_concert_date_concert FOREIGN KEY (concert_id) REFERENCES concert (id),
  CONSTRAINT fk_concert_date_venue FOREIGN KEY (venue_id) REFERENCES venue (id),
  INDEX ix_concert_date_concert (concert_id, starts_at)
) ENGINE = InnoDB;

-- A seat is AVAILABLE, HELD (until held_until) or SOLD. A HELD seat whose held_until has passed is
-- free for every query, whether or not the sweeper has run: expiry is exact.
CREATE TABLE seat (
  id              BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  concert_date_id BIGINT      NOT NULL,
  seat_number     INT         NOT NULL,
  grade           VARCHAR(20) NOT NULL,
  price           BIGINT      NOT NULL,
  status          VARCHAR(10) NOT NULL DEFAULT 'AVAILABLE',
  held_until      DATETIME(6) NULL,
  reservation_id  BIGINT      NULL,
  version         BIGINT      NOT NULL DEFAULT 0,
  CONSTRAINT fk_seat_concert_date FOREIGN KEY (concert_date_id) REFERENCES concert_date (id),
  CONSTRAINT uk_seat_date_number UNIQUE (concert_date_id, seat_number),
  INDEX ix_seat_date_status (concert_date_id, status)
) ENGINE = InnoDB;

CREATE TABLE users (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(100) NOT NULL,
  balance    BIGINT       NOT NULL DEFAULT 0,
  version    BIGINT       NOT NULL DEFAULT 0,
  created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  CONSTRAINT ck_users_balance CHECK (balance >= 0 AND balance <= 1000000000)
) ENGINE = InnoDB;

CREATE TABLE reservation (
  id              BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id         BIGINT      NOT NULL,
  concert_id      BIGINT      NOT NULL,
  concert_date_id BIGINT      NOT NULL,
  seat_id         BIGINT      NOT NULL,
  seat_number     INT         NOT NULL,
  price           BIGINT      NOT NULL,
  status          VARCHAR(12) NOT NULL,
  held_until      DATETIME(6) NOT NULL,
  created_at      DATETIME(6) NOT NULL,
  paid_at         DATETIME(6) NULL,
  cancelled_at    DATETIME(6) NULL,
  CONSTRAINT fk_reservation_user FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT fk_reservation_seat FOREIGN KEY (seat_id) REFERENCES seat (id),
  INDEX ix_reservation_user (user_id, id),
  -- the sweeper reads live holds by expiry in bounded batches
  INDEX ix_reservation_status_expiry (status, held_until)
) ENGINE = InnoDB;

CREATE TABLE payment (
  id             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  reservation_id BIGINT      NOT NULL,
  user_id        BIGINT      NOT NULL,
  amount         BIGINT      NOT NULL,
  status         VARCHAR(12) NOT NULL,
  created_at     DATETIME(6) NOT NULL,
  refunded_at    DATETIME(6) NULL,
  CONSTRAINT fk_payment_reservation FOREIGN KEY (reservation_id) REFERENCES reservation (id),
  -- a reservation is paid at most once
  CONSTRAINT uk_payment_reservation UNIQUE (reservation_id),
  INDEX ix_payment_user (user_id)
) ENGINE = InnoDB;

-- Transactional outbox: written in the same transaction as the state change, relayed to Kafka.
CREATE TABLE outbox (
  id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id       CHAR(36)     NOT NULL,
  event_type     VARCHAR(50)  NOT NULL,
  topic          VARCHAR(100) NOT NULL,
  message_key    VARCHAR(100) NOT NULL,
  payload        TEXT         NOT NULL,
  status         VARCHAR(10)  NOT NULL DEFAULT 'PENDING',
  attempts       INT          NOT NULL DEFAULT 0,
  created_at     DATETIME(6)  NOT NULL,
  sent_at        DATETIME(6)  NULL,
  CONSTRAINT uk_outbox_event UNIQUE (event_id),
  INDEX ix_outbox_status (status, id),
  INDEX ix_outbox_sent (sent_at)
) ENGINE = InnoDB;

CREATE TABLE idempotency_key (
  id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id         BIGINT       NOT NULL,
  idem_key        VARCHAR(100) NOT NULL,
  request_hash    CHAR(64)     NOT NULL,
  status          VARCHAR(12)  NOT NULL,
  response_status INT          NULL,
  response_body   TEXT         NULL,
  created_at      DATETIME(6)  NOT NULL,
  expires_at      DATETIME(6)  NOT NULL,
  CONSTRAINT uk_idempotency_key UNIQUE (user_id, idem_key),
  INDEX ix_idempotency_expiry (expires_at)
) ENGINE = InnoDB;

CREATE TABLE notification (
  id             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id       CHAR(36)    NOT NULL,
  type           VARCHAR(50) NOT NULL,
  user_id        BIGINT      NOT NULL,
  reservation_id BIGINT      NULL,
  payment_id     BIGINT      NULL,
  created_at     DATETIME(6) NOT NULL,
  CONSTRAINT uk_notification_event UNIQUE (event_id),
  INDEX ix_notification_user (user_id, id)
) ENGINE = InnoDB;
