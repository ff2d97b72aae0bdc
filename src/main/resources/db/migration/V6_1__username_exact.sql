-- Identity (SPEC 11): a username is unique without regard to case and otherwise compared exactly: no folding of
-- spaces, accents or widths, which the column's former utf8mb4_unicode_ci collation did (a locked-out 'fan' signed
-- in as 'fan ', 'fán' or 'ｆａｎ'). The name itself is kept as written under a binary collation; its lower-cased
-- copy (a stored generated column, as both MySQL 8 and MariaDB have them) carries the unique key and the lookup.
ALTER TABLE users
  DROP INDEX uk_users_username,
  MODIFY COLUMN username VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  ADD COLUMN username_lower VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
      GENERATED ALWAYS AS (LOWER(username)) STORED,
  ADD CONSTRAINT uk_users_username_lower UNIQUE (username_lower);
