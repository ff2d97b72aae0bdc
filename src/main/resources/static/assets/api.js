// Shared by the fan page and the operator page: one way to call the API, and one way to say what went wrong.
// The pages make no rule of their own: every refusal shown to a person comes from the service's problem+json.

/** A refused or failed call: the problem's fields, or status 0 when the service could not be reached. */
export class ApiError extends Error {
  constructor({ status, code, title, detail, retryAfter, problem }) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.code = code || null;
    this.title = title || null;
    this.detail = detail || null;
    this.retryAfter = retryAfter ? Number.parseInt(retryAfter, 10) : null;
    this.problem = problem || {}; // the whole problem body: some carry more (SALE_NOT_OPEN: the sale's times)
  }
}

/** Server time minus this browser's time, from the last response's Date header (countdowns use server time). */
let clockSkewMs = 0;

export function serverNow() {
  return Date.now() + clockSkewMs;
}

/** A serverTime the service sent (millisecond precision, unlike the Date header): countdowns follow it. */
export function syncServerTime(iso) {
  const t = Date.parse(iso || '');
  if (!Number.isNaN(t)) clockSkewMs = t - Date.now();
}

/**
 * Calls /api/v1 + path. Resolves to the parsed JSON body (null when there is none, and on a 304 to a conditional
 * request the caller made, e.g. with If-None-Match); rejects with an ApiError.
 * headers: extra request headers (Authorization, Queue-Token, Idempotency-Key, X-Admin-Key, If-None-Match).
 * cache: the fetch cache mode; no-store unless a caller asks for an immutable document (the seat layout).
 */
export async function call(method, path, { body, headers = {}, signal, cache = 'no-store' } = {}) {
  const init = { method, headers: { Accept: 'application/json, application/problem+json', ...headers }, signal, cache };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch('/api/v1' + path, init);
    text = await response.text();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError({ status: 0, code: 'NETWORK', detail: 'The service could not be reached.' });
  }
  const date = Date.parse(response.headers.get('Date') || '');
  if (!Number.isNaN(date)) clockSkewMs = date - Date.now();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok && response.status !== 304) {
    throw new ApiError({
      status: response.status,
      code: data && data.code,
      title: data && data.title,
      detail: data && data.detail,
      retryAfter: response.headers.get('Retry-After'),
      problem: data,
    });
  }
  return data;
}

function seconds(n) {
  return n === 1 ? '1 second' : `${n} seconds`;
}

/** Words a fan understands for the service's stable codes; anything else falls back to the problem's detail. */
const FAN_WORDS = {
  NETWORK: () => 'We cannot reach the ticket service right now. Check your connection and try again.',
  INVALID_CREDENTIALS: () => 'That username and password do not match. Please try again.',
  UNAUTHENTICATED: () => 'Your sign-in has run out. Please sign in again.',
  TOO_MANY_REQUESTS: (e) => e.retryAfter
    ? `Too many attempts in a short time. Please wait ${seconds(e.retryAfter)} and try again.`
    : 'Too many attempts in a short time. Please wait a moment and try again.',
  DEPENDENCY_UNAVAILABLE: (e) => e.retryAfter
    ? `The ticket service is very busy. Please try again in ${seconds(e.retryAfter)}.`
    : 'The ticket service is very busy. Please try again in a moment.',
  SEAT_UNAVAILABLE: () => 'Sorry, someone else has just taken this seat. Please pick another one.',
  HOLD_EXPIRED: () => 'Your hold ran out before payment, so the seat was released. Nothing was charged. Please pick a seat again.',
  HOLD_LIMIT_REACHED: () => 'You already hold as many seats as allowed for this date. Pay for or cancel one of them first.',
  PURCHASE_LIMIT_REACHED: () => 'You already have as many tickets for this concert as one fan may (held and paid together).',
  SALE_NOT_OPEN: () => 'The sale of this concert has not opened yet.',
  SOLD_OUT: () => 'This concert is sold out. If seats come back (unpaid holds run out, tickets are returned), you can queue again.',
  CONCERT_DATE_CLOSED: () => 'This performance has already started, so its seats can no longer be booked.',
  INSUFFICIENT_BALANCE: () => 'Your balance is too low for this seat. Top up your balance, then pay again.',
  BALANCE_LIMIT_EXCEEDED: () => 'This top-up would take your balance over the maximum allowed.',
  RESERVATION_NOT_PAYABLE: () => 'This reservation can no longer be paid: it is already paid, cancelled or expired.',
  RESERVATION_NOT_CANCELLABLE: () => 'This reservation can no longer be cancelled.',
  IDEMPOTENCY_IN_PROGRESS: () => 'Your payment is still being processed. Please wait a moment.',
  IDEMPOTENCY_KEY_REUSED: () => 'This payment attempt does not match the earlier one. Please press Pay again.',
  TOKEN_NOT_ACTIVE: () => 'It is not your turn yet: you are still in the waiting room.',
  TOKEN_EXPIRED: () => 'Your turn to book has ended (time ran out, or it was used by a payment). Join the queue again to book.',
  TOKEN_INVALID: () => 'Your place in the queue is no longer valid. Please join the queue again.',
  TOKEN_MISSING: () => 'You need a place in the queue for this. Please join the queue first.',
  FORBIDDEN: () => 'That belongs to another account or another concert.',
  CONCERT_NOT_FOUND: () => 'This concert no longer exists.',
  CONCERT_DATE_NOT_FOUND: () => 'This date no longer exists.',
  SEAT_NOT_FOUND: () => 'There is no such seat on this date.',
  USER_NOT_FOUND: () => 'Your account could not be found. Please sign in again.',
  RESERVATION_NOT_FOUND: () => 'That reservation could not be found.',
  VALIDATION_FAILED: (e) => `Please check what you entered${e.detail ? ': ' + e.detail : '.'}`,
};

/**
 * What to tell a fan: {text, detail}. text is plain words; detail is the problem's own detail (shown beneath
 * it when it adds something), so nobody ever sees a bare code.
 */
export function explain(error) {
  if (!(error instanceof ApiError)) {
    console.error(error); // a fault of the page itself: visible in the console (the browser tests fail on it)
    return { text: 'Something went wrong. Please try again.', detail: null };
  }
  const words = error.code && FAN_WORDS[error.code];
  if (words) {
    const text = words(error);
    const detail = error.detail && !text.includes(error.detail) && error.code !== 'NETWORK' ? error.detail : null;
    return { text, detail };
  }
  return { text: error.detail || error.title || `The service answered with an error (HTTP ${error.status}).`, detail: null };
}

/** Shows a message in an element made for it (role=alert or role=status in the page). kind: error | ok | info. */
export function show(element, kind, text, detail) {
  element.replaceChildren();
  element.hidden = !text;
  if (!text) return;
  element.className = 'message ' + kind;
  const main = document.createElement('span');
  main.textContent = text;
  element.append(main);
  if (detail) {
    const small = document.createElement('small');
    small.textContent = detail;
    element.append(small);
  }
}

export function showError(element, error) {
  const { text, detail } = explain(error);
  show(element, 'error', text, detail);
}

/** Builds an element: el('button', {class: 'x', onclick: f}, 'text', child...). Text is never parsed as HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const WON = new Intl.NumberFormat('en-US');

export function won(amount) {
  return `${WON.format(amount)} won`;
}

export function number(n) {
  return WON.format(n);
}

export function when(iso) {
  return new Date(iso).toLocaleString(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** 75 -> "1 min 15 s"; 3700 -> "1 h 2 min". */
export function duration(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ' ' + (s % 60) + ' s' : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ' ' + Math.floor((s % 3600) / 60) + ' min' : ''}`;
}

/** mm:ss for countdowns (h:mm:ss from an hour on). */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A random UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
