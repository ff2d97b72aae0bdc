-- One payment for several held reservations (SPEC 3, issue 19). The payment row names its first reservation
-- (payment.reservation_id, still unique); when a payment covers several, each of them also names the payment here
-- (NULL for a payment of one reservation: payment.reservation_id finds it without a further write per payment).
-- A refund of one seat credits that seat's price; the payment turns REFUNDED once none of its seats is still PAID.
ALTER TABLE reservation ADD COLUMN payment_id BIGINT NULL;
ALTER TABLE reservation ADD CONSTRAINT fk_reservation_payment FOREIGN KEY (payment_id) REFERENCES payment (id);
