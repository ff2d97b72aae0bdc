-- Refresh tokens of the development issuer (SPEC 11): opaque, stored only as a SHA-256 hash, rotated on every use.
-- A family is one sign-in's chain of tokens; presenting a token that was already rotated (a replay, e.g. a stolen
-- copy) revokes the whole family, so neither the thief's nor the owner's copy works afterwards.
CREATE TABLE refresh_token (
  id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash  CHAR(64)    NOT NULL,
  family      CHAR(32)    NOT NULL,
  user_id     BIGINT      NOT NULL,
  created_at  DATETIME(6) NOT NULL,
  expires_at  DATETIME(6) NOT NULL,
  -- Set once this token has been exchanged for its successor: presenting it again is a reuse.
  rotated_at  DATETIME(6) NULL,
  -- Set on every token of a family when the family is revoked (reuse detected, or sign-out).
  revoked_at  DATETIME(6) NULL,
  CONSTRAINT uk_refresh_token_hash UNIQUE (token_hash),
  CONSTRAINT fk_refresh_token_user FOREIGN KEY (user_id) REFERENCES users (id),
  INDEX ix_refresh_token_family (family),
  INDEX ix_refresh_token_expiry (expires_at)
) ENGINE = InnoDB;
