-- Identity (SPEC 11): a user signs in with a unique username and a password stored only as a
-- Spring Security PasswordEncoder hash ({bcrypt}...). NULL: no password login (tokens come from an
-- external identity provider or are minted by an operator).

-- Names were free text until now; make any duplicates unique before the unique index.
UPDATE users u
  JOIN (SELECT name, MIN(id) AS keep_id FROM users GROUP BY name HAVING COUNT(*) > 1) d ON u.name = d.name
   SET u.name = CONCAT(u.name, '#', u.id)
 WHERE u.id <> d.keep_id;

ALTER TABLE users
  CHANGE COLUMN name username VARCHAR(100) NOT NULL,
  ADD COLUMN password_hash VARCHAR(200) NULL AFTER username,
  ADD CONSTRAINT uk_users_username UNIQUE (username);
