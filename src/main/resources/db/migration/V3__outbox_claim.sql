-- Relay claims (issue 5): a relay instance leases the rows it is sending, so several instances never
-- send the same row at once and a later row of a key is never sent while an earlier one is in flight
-- elsewhere. The lease expires on its own if the instance dies mid-send.
ALTER TABLE outbox
  ADD COLUMN claimed_by    VARCHAR(64) NULL,
  ADD COLUMN claimed_until DATETIME(6) NULL;
