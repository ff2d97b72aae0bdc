package com.concertbooking.queue;

import com.concertbooking.auth.QueuePass;

/** A live (WAITING or ACTIVE) queue token of the caller: what the queue's own routes act on (status, leave, stream). */
record LivePass(QueueService.Verified verified) implements QueuePass {

    @Override
    public long userId() {
        return verified.pass().userId();
    }

    @Override
    public long concertId() {
        return verified.pass().concertId();
    }

    public QueueService.Ticket ticket() {
        return verified.ticket();
    }
}
