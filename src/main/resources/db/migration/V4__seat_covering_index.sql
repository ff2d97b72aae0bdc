-- Free-seat counts and seat maps test "AVAILABLE, or HELD with held_until in the past" (exact expiry).
-- With held_until in the index, that predicate is answered from the index alone: on 10 M seats the
-- dates endpoint's p99 fell from 1,219 ms to 70 ms in bin/bench (docs/benchmarks.md). The new index
-- starts with (concert_date_id, status), so it replaces the old one.
CREATE INDEX ix_seat_date_status_hold ON seat (concert_date_id, status, held_until);
DROP INDEX ix_seat_date_status ON seat;
