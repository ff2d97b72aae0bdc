-- Free-seat counts per date and grade without scanning seats (SPEC 8, issue 18 item 2). Written only by
-- booking.SeatInventory, in the same statement as the seat change it counts (a multi-table UPDATE: no extra round
-- trip). A date's counts are spread over SLOTS rows per grade (slot = seat_number MOD 8) so that concurrent holds of one
-- grade lock different rows: one row would serialise every hold of a hot date until its commit.
--   seats: seats of this date, grade and slot (fixed once created)
--   free:  seats with status AVAILABLE. A hold that ran out stays counted as taken until the hold sweeper releases
--          it (at most a sweep interval, 1 s by default: within SPEC 8's display staleness); taking such a seat
--          again does not change the count (it was never given back).
--   sold:  seats with status SOLD (seats - sold = what is still to buy, held or free: the sold-out probe)
CREATE TABLE seat_count (
  concert_date_id BIGINT      NOT NULL,
  grade           VARCHAR(20) NOT NULL,
  slot            TINYINT     NOT NULL,
  seats           INT         NOT NULL,
  free            INT         NOT NULL,
  sold            INT         NOT NULL,
  PRIMARY KEY (concert_date_id, grade, slot),
  CONSTRAINT fk_seat_count_date FOREIGN KEY (concert_date_id) REFERENCES concert_date (id),
  CONSTRAINT ck_seat_count CHECK (free >= 0 AND sold >= 0 AND free + sold <= seats)
) ENGINE = InnoDB;

-- Back-fill from the seats as they are (one pass over the table, at migration time only).
INSERT INTO seat_count (concert_date_id, grade, slot, seats, free, sold)
SELECT concert_date_id, grade, seat_number MOD 8, COUNT(*), SUM(status = 'AVAILABLE'), SUM(status = 'SOLD')
FROM seat GROUP BY concert_date_id, grade, seat_number MOD 8;
