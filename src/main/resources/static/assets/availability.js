// The seat map in two parts (SPEC 8): the date's layout, immutable, asked once per date; and which seats are free,
// a compact versioned document refreshed with `?since=<version>` deltas. Pure functions, no DOM: the browser test
// imports this module and checks the decoding on its own.

/**
 * The seats of a layout document {"concertDateId","concertId","seatCount","grades":[..],"blocks":[[first,last,
 * gradeIndex,price],..]}: one {seatNumber, grade, price} per seat, in seat-number order. Numbers in no block do
 * not exist (a venue's numbering may have gaps).
 */
export function layoutSeats(layout) {
  const seats = [];
  for (const [first, last, grade, price] of layout.blocks) {
    for (let n = first; n <= last; n++) seats.push({ seatNumber: n, grade: layout.grades[grade], price });
  }
  return seats;
}

/** The bit set of an availability document's `free` (base64): bit n-1, least significant first in each byte, = seat n free. */
export function decodeFree(base64) {
  const raw = atob(base64);
  const bits = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bits[i] = raw.charCodeAt(i);
  return bits;
}

export function isFree(bits, seatNumber) {
  const i = seatNumber - 1;
  return i >= 0 && (i >> 3) < bits.length && ((bits[i >> 3] >> (i & 7)) & 1) === 1;
}

function setFree(bits, seatNumber, free) {
  const i = seatNumber - 1;
  if (free) bits[i >> 3] |= 1 << (i & 7);
  else bits[i >> 3] &= ~(1 << (i & 7));
}

/**
 * What the page knows after an availability answer. `known` is {version, bits} or null; `answer` is the full
 * document ({"version","seatCount","free"}, with "full": true when it answers a `since`) or the changes since the
 * known version ({"version","changes":[[seatNumber, 1 or 0], ..]}). Returns {version, bits, changed}: `changed`
 * lists the seat numbers whose state may differ, or is null when everything may (a full document).
 */
export function applyAvailability(known, answer) {
  if (typeof answer.free === 'string' || !known) {
    return { version: answer.version, bits: decodeFree(answer.free || ''), changed: null };
  }
  let bits = known.bits;
  const top = answer.changes.reduce((max, [n]) => Math.max(max, n), 0);
  if (((top + 7) >> 3) > bits.length) {
    bits = new Uint8Array((top + 7) >> 3);
    bits.set(known.bits);
  } else {
    bits = bits.slice();
  }
  for (const [n, free] of answer.changes) {
    if (n >= 1) setFree(bits, n, free === 1);
  }
  return { version: answer.version, bits, changed: answer.changes.map(([n]) => n) };
}
