-- Redis TIME in ms on the node that owns a concert's queue (KEYS[1] routes it there): the clock the queue scripts
-- decide by, for answers that must agree with them (the sale's state, the schedule's checks).
return now_ms()
