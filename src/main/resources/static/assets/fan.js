// The fan page: sign in, browse, wait in the queue (live over EventSource), pick several seats up to the ticket
// limit, hold them, pay for all of them at once, keep the confirmation, top up, see and cancel reservations.
// Everything the page decides comes from the service's answers (SPEC sections 3, 11, 12).
import { ApiError, call, clock, duration, el, explain, number, serverNow, show, showError, syncServerTime, uuid, when, won } from './api.js';
import { applyAvailability, isFree, layoutSeats } from './availability.js';

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;
const SEAT_REFRESH_MS = 3000;
/** Position events arrive at least every 5 s while waiting; this long without one means the stream is stuck. */
const STREAM_STALL_MS = 15000;
/** While sold out the stream has ended; the page asks this often whether seats came back. */
const SOLD_OUT_POLL_MS = 10000;
/** The access token is renewed this long before it runs out (the service allows 60 s of clock skew). */
const RENEW_BEFORE_MS = 120000;
/** A screen reader hears the position at most this often (and at once when the fan is near the front). */
const ANNOUNCE_EVERY_MS = 20000;
/**
 * Seats one fan may pick at once when the concert does not say: the service's default ticket limit (SPEC 3,
 * booking.reservation.max-tickets-per-user). The service still decides (PURCHASE_LIMIT_REACHED, HOLD_LIMIT_REACHED).
 */
const DEFAULT_TICKET_LIMIT = 4;
const TITLE = document.title;

const state = {
  auth: null,        // {accessToken, refreshToken, userId, username, expiresAt}
  renewing: null,    // the renewal in flight (one at a time: a reused refresh token revokes the whole family)
  renewTimer: null,
  page: 0,
  queue: null,       // {token, concertId, concertName, status, opensAt, commitment, queueId, activeUntil, firstPosition, ticketLimit}
  upcoming: null,    // {concert, prequeueOpensAt, opensAt, joining}: a sale whose pre-queue has not opened
  stream: null,      // EventSource
  soldOutTimer: null,
  streamRetry: 0,
  streamWatchdog: null,
  announced: { position: null, at: 0 },
  dates: [],
  dateId: null,
  seats: [],         // the shown date's seats: {seatNumber, grade, price, status: 'AVAILABLE' | 'TAKEN'}
  seatsDate: null,   // the date they are of
  seatIndex: new Map(), // seat number -> its entry in seats
  layouts: new Map(), // date id -> its layout's seats (immutable: asked once per date)
  availability: null, // {dateId, version, bits}: the free seats as last told (SPEC 8)
  seatLoad: null,    // the map refresh in flight (one at a time, so answers apply in order)
  seatLoadAgain: false,
  selected: [],      // seat numbers picked on the map, in the order picked
  seatTimer: null,
  holds: [],         // held reservations of the current concert date, to be paid together
  payment: null,     // {key, ids}: the attempt in progress, reused on retry
  paying: false,
  holding: false,
  reservations: [],
  ticker: null,
};

// ---------------------------------------------------------------- storage (per tab)

function save(key, value) {
  if (value === null || value === undefined) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(value));
}

function load(key) {
  try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
}

// ---------------------------------------------------------------- identity

/** The user id is the access token's subject; the payload is readable base64url JSON (not a secret). */
function subjectOf(jwt) {
  const part = jwt.split('.')[1] || '';
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
  return JSON.parse(json).sub;
}

function signedIn(token, username) {
  state.auth = {
    accessToken: token.accessToken,
    refreshToken: token.refreshToken || (state.auth && state.auth.refreshToken) || null,
    userId: String(subjectOf(token.accessToken)),
    username,
    expiresAt: Date.now() + token.expiresIn * 1000,
  };
  save('auth', state.auth);
  scheduleRenewal();
}

/** Renews a little before the access token runs out, so a fan waiting for hours never meets a 401. */
function scheduleRenewal() {
  clearTimeout(state.renewTimer);
  if (!state.auth || !state.auth.refreshToken) return;
  const wait = Math.max(1000, state.auth.expiresAt - RENEW_BEFORE_MS - Date.now());
  state.renewTimer = setTimeout(() => renew().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
}

/**
 * A new access token from the refresh token (rotated on every use). One renewal at a time: two would present
 * the same refresh token twice, and the service then revokes the whole family. Resolves true when renewed.
 * A refusal (the refresh token ran out or was revoked) resolves false; a network failure or busy service rejects.
 */
function renew() {
  if (!state.auth || !state.auth.refreshToken) return Promise.resolve(false);
  if (state.renewing) return state.renewing;
  const auth = state.auth;
  state.renewing = call('POST', '/auth/refresh', { body: { refreshToken: auth.refreshToken } })
    .then((token) => {
      if (state.auth !== auth) return false; // signed out meanwhile
      signedIn(token, auth.username);
      return true;
    })
    .catch((e) => {
      if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) return false;
      scheduleRetryRenewal();
      throw e;
    })
    .finally(() => { state.renewing = null; });
  return state.renewing;
}

function scheduleRetryRenewal() {
  clearTimeout(state.renewTimer);
  state.renewTimer = setTimeout(() => renew().catch(() => {}), 15000);
}

function userHeaders(extra = {}) {
  return { Authorization: `Bearer ${state.auth.accessToken}`, ...extra };
}

/**
 * Every call made as the fan. The access token is renewed first when it is about to run out; a 401 UNAUTHENTICATED
 * is renewed once and retried; when the sign-in cannot be renewed, the fan signs in again and comes back to the
 * same place (the queue pass is kept). withQueue adds the Queue-Token.
 */
async function userCall(method, path, options = {}) {
  if (!state.auth) throw new ApiError({ status: 401, code: 'UNAUTHENTICATED' });
  if (state.auth.refreshToken && state.auth.expiresAt - Date.now() < RENEW_BEFORE_MS / 2) {
    await renew().catch(() => false);
  }
  const attempt = () => {
    if (!state.auth) throw new ApiError({ status: 401, code: 'UNAUTHENTICATED' });
    const extra = options.withQueue && state.queue ? { 'Queue-Token': state.queue.token } : {};
    return call(method, path, { ...options, headers: userHeaders({ ...extra, ...(options.headers || {}) }) });
  };
  try {
    return await attempt();
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'UNAUTHENTICATED') throw e;
    let renewed = false;
    try { renewed = await renew(); } catch { renewed = false; }
    if (renewed) {
      try {
        return await attempt();
      } catch (again) {
        if (again instanceof ApiError && again.code === 'UNAUTHENTICATED') signInAgain(again);
        throw again;
      }
    }
    signInAgain(e);
    throw e;
  }
}

async function signIn(event) {
  event.preventDefault();
  const button = $('sign-in-button');
  button.disabled = true;
  show($('sign-in-message'));
  const username = $('username').value;
  try {
    const token = await call('POST', '/auth/login', { body: { username, password: $('password').value } });
    const previous = load('auth');
    const sameFan = previous && String(previous.userId) === String(subjectOf(token.accessToken));
    $('password').value = '';
    if (!sameFan && (state.queue || load('queue') || load('holds'))) {
      // Someone else signs in on a tab the previous fan's session ran out on: nothing of theirs may show.
      sessionStorage.clear();
      state.auth = null;
      signedIn(token, username);
      location.replace(location.pathname);
      return;
    }
    signedIn(token, username);
    enterApp();
  } catch (e) {
    showError($('sign-in-message'), e);
  } finally {
    button.disabled = false;
  }
}

/**
 * The sign-in could not be renewed: back to the form with the reason. The queue pass, the holds and the
 * fan's place on the page stay (in this tab's storage): signing in again as the same fan returns there.
 */
function signInAgain(reason) {
  if ($('sign-in-view').hidden === false && !state.auth) return;
  stopLiveWork();
  clearTimeout(state.renewTimer);
  state.auth = null;
  save('auth', { ...(load('auth') || {}), accessToken: null, refreshToken: null, expiresAt: 0 });
  $('app-view').hidden = true;
  $('account').hidden = true;
  $('sign-in-view').hidden = false;
  $('sign-in-keep').hidden = !(state.queue || state.holds.length);
  document.title = `Sign in again – ${TITLE}`;
  showError($('sign-in-message'), reason);
  const remembered = load('auth');
  if (remembered && remembered.username) $('username').value = remembered.username;
  $('password').focus();
}

/**
 * Sign-out ends everything of this fan in this tab: the refresh token (revoked at the service), the stored
 * sign-in, queue pass and holds, and every screen.
 * The page is loaded afresh, so nothing of the previous fan (waiting room, seat map, holds, reservations, balance)
 * can remain on a shared computer, and no old button can act on a session that is gone.
 */
async function signOut() {
  stopLiveWork();
  clearTimeout(state.renewTimer);
  const refreshToken = state.auth && state.auth.refreshToken;
  state.auth = null;
  if (refreshToken) {
    // The service revokes the sign-in's refresh tokens (SPEC 11); the page does not wait long for it.
    await Promise.race([
      call('POST', '/auth/logout', { body: { refreshToken } }).catch(() => null),
      new Promise((resolve) => setTimeout(resolve, 3000)),
    ]);
  }
  state.queue = null;
  state.holds = [];
  sessionStorage.clear();
  sessionStorage.setItem('signed-out', '1');
  location.replace(location.pathname);
}

function stopLiveWork() {
  closeStream();
  stopSeatRefresh();
  stopSoldOutPolling();
}

function enterApp() {
  $('sign-in-view').hidden = true;
  $('sign-in-keep').hidden = true;
  show($('sign-in-message'));
  $('app-view').hidden = false;
  $('account').hidden = false;
  document.title = TITLE;
  $('who').textContent = `Signed in as ${state.auth.username}`;
  loadConcerts();
  refreshBalance();
  refreshReservations();
  if (state.queue && state.queue.status === 'ACTIVE' && !$('booking-section').hidden) {
    // Signed in again on the seat map: carry on where the fan was.
    loadSeats();
    startSeatRefresh();
  } else {
    resumeQueue();
  }
  if (!state.queue) $('main').focus();
}

// ---------------------------------------------------------------- concerts and dates

/** A concert's own link (#concert-42) shows that concert alone, for sharing; otherwise the paged list. */
async function loadConcerts() {
  show($('concerts-message'));
  const linked = /^#concert-(\d+)$/.exec(location.hash);
  $('all-concerts').hidden = !linked;
  $('concerts-pager').hidden = Boolean(linked);
  if (linked) {
    try {
      $('concerts').replaceChildren(concertItem(await call('GET', `/concerts/${linked[1]}`)));
    } catch (e) {
      $('concerts').replaceChildren();
      showError($('concerts-message'), e);
    }
    return;
  }
  try {
    const page = await call('GET', `/concerts?page=${state.page}&size=${PAGE_SIZE}`);
    const list = $('concerts');
    list.replaceChildren(...page.content.map(concertItem));
    if (page.content.length === 0) list.replaceChildren(el('li', { class: 'muted' }, 'No concerts yet.'));
    $('concerts-page').textContent = `Page ${page.page + 1} of ${Math.max(1, page.totalPages)}`;
    $('concerts-prev').disabled = page.page === 0;
    $('concerts-next').disabled = page.page + 1 >= page.totalPages;
  } catch (e) {
    showError($('concerts-message'), e);
  }
}

function concertItem(concert) {
  const dates = el('ul', { class: 'dates', 'aria-live': 'polite' });
  const message = el('p', { role: 'alert', hidden: true });
  const join = el('button', { type: 'button', class: 'primary', dataset: { concert: concert.concertId } }, 'Join the queue');
  join.addEventListener('click', () => joinQueue(concert, message, join));
  const item = el('li', { class: 'concert', dataset: { concert: concert.concertId } },
    el('h3', {}, el('a', { href: `#concert-${concert.concertId}`, title: 'Link to this concert' }, concert.name)),
    concert.description ? el('p', { class: 'muted' }, concert.description) : null,
    dates, message, join);
  loadDates(concert.concertId, dates, message);
  return item;
}

async function loadDates(concertId, target, message) {
  try {
    const upcoming = await call('GET', `/concerts/${concertId}/dates`);
    target.replaceChildren(...upcoming.dates.map((d) => el('li', {},
      el('span', {}, when(d.startsAt)), ' · ', el('span', {}, d.venue), ' · ',
      el('strong', {}, `${number(d.availableSeats)} of ${number(d.totalSeats)} seats free`))));
    if (upcoming.dates.length === 0) target.replaceChildren(el('li', { class: 'muted' }, 'No upcoming dates.'));
    return upcoming.dates;
  } catch (e) {
    showError(message, e);
    return [];
  }
}

// ---------------------------------------------------------------- queue

async function joinQueue(concert, message, button) {
  show(message);
  if (button) button.disabled = true;
  try {
    const ticket = await userCall('POST', '/queues/token', { body: { concertId: concert.concertId } });
    closeStream();
    state.upcoming = null;
    state.queue = {
      token: ticket.token, concertId: concert.concertId, concertName: concert.name,
      ticketLimit: concert.maxTicketsPerUser || null,
    };
    save('queue', state.queue);
    show($('queue-message'));
    applyTicket(ticket);
    if (state.queue && state.queue.status !== 'ACTIVE') {
      $('queue-section').scrollIntoView({ block: 'start' });
      $('queue-title').focus();
    }
  } catch (e) {
    if (e instanceof ApiError && e.code === 'SALE_NOT_OPEN' && e.problem.prequeueOpensAt) upcoming(concert, e.problem);
    else if (!signInError(e)) showError(message, e);
  } finally {
    if (button) button.disabled = false;
  }
}

/** A scheduled sale whose pre-queue has not opened: count down (server time) and join by ourselves when it opens. */
function upcoming(concert, problem) {
  syncServerTime(problem.serverTime);
  const again = state.upcoming && state.upcoming.concert.concertId === concert.concertId;
  state.upcoming = { concert, prequeueOpensAt: problem.prequeueOpensAt, opensAt: problem.opensAt, joining: false };
  showQueueParts('upcoming');
  $('queue-concert').textContent = concert.name;
  $('upcoming-at').textContent = when(problem.prequeueOpensAt);
  $('leave-queue').hidden = true;
  show($('queue-message'));
  tick();
  if (!again) $('queue-section').scrollIntoView({ block: 'start' });
}

/** Which part of the waiting room shows: upcoming, prequeue, waiting, soldout (or none). */
function showQueueParts(part) {
  $('booking-section').hidden = true;
  $('queue-section').hidden = false;
  $('queue-upcoming').hidden = part !== 'upcoming';
  $('queue-prequeue').hidden = part !== 'prequeue';
  $('queue-waiting').hidden = part !== 'waiting';
  $('queue-soldout').hidden = part !== 'soldout';
  $('leave-queue').hidden = part === 'upcoming' || part === null;
}

/** After a reload: the stored queue token still holds the fan's place (or admission). */
async function resumeQueue() {
  state.queue = load('queue');
  state.holds = load('holds') || [];
  if (!state.queue) {
    if (state.holds.length) showHolds();
    return;
  }
  try {
    applyTicket(await userCall('GET', '/queues/status', { withQueue: true }));
  } catch (e) {
    if (!signInError(e)) queueOver(e);
  }
}

/** The sign-in could not be renewed: userCall has sent the fan to the form, and the place is kept. */
function signInError(e) {
  return e instanceof ApiError && e.code === 'UNAUTHENTICATED';
}

function applyTicket(ticket) {
  if (!state.queue) return; // signed out or left while the answer was on its way
  state.queue.queueId = ticket.queueId;
  operatorMessage(ticket.message);
  showQueueId();
  if (ticket.status === 'ACTIVE') admitted(ticket.activeUntil);
  else if (ticket.soldOut) soldOut();
  else if (ticket.status === 'PREQUEUE') {
    prequeue(ticket.opensAt, ticket.serverTime, ticket.commitment);
    openStream();
  } else if (ticket.status === 'WAITING') {
    waiting(ticket.position, ticket.admission, ticket.estimatedWaitSeconds);
    openStream();
  } else queueOver(null);
}

function showQueueId() {
  $('queue-id').hidden = !state.queue.queueId;
  $('queue-id-value').textContent = state.queue.queueId || '';
}

function operatorMessage(text) {
  if (text) show($('queue-operator'), 'info', `From the organiser: ${text}`);
  else show($('queue-operator'));
}

/** Before the opening: a countdown on the server's clock; no position yet (the draw sets it). */
function prequeue(opensAt, serverTime, commitment) {
  if (!state.queue) return;
  syncServerTime(serverTime);
  state.queue.status = 'PREQUEUE';
  state.queue.opensAt = opensAt;
  if (commitment) state.queue.commitment = commitment;
  save('queue', state.queue);
  showQueueParts('prequeue');
  $('queue-concert').textContent = state.queue.concertName;
  $('prequeue-commitment').textContent = state.queue.commitment || 'published when the pre-queue opens';
  show($('queue-draw'));
  tick();
}

const ADMISSION_WORDS = {
  PAUSED: 'not moving: the organiser has paused admission',
  CAP_FULL: 'not moving until seats free up (everyone let in is still booking)',
};

function waiting(position, admission, estimatedWaitSeconds) {
  if (!state.queue) return;
  if (state.queue.status === 'PREQUEUE') {
    // The moment of the draw: the pre-queue just got its places.
    show($('queue-draw'), 'ok', `The sale is open and the draw is done: you are number ${number(position)} in line.`);
  }
  state.queue.status = 'WAITING';
  save('queue', state.queue);
  showQueueParts('waiting');
  $('queue-concert').textContent = state.queue.concertName;
  $('queue-position').textContent = number(position);
  const wait = ADMISSION_WORDS[admission]
    || (estimatedWaitSeconds === null || estimatedWaitSeconds === undefined ? 'not known yet' : `about ${duration(estimatedWaitSeconds)}`);
  $('queue-wait').textContent = wait;
  if (!state.queue.firstPosition || position > state.queue.firstPosition) state.queue.firstPosition = position;
  const first = state.queue.firstPosition;
  $('queue-progress').value = first > 1 ? Math.round(((first - position) / (first - 1)) * 100) : 0;
  $('queue-progress').setAttribute('aria-valuetext', `number ${number(position)} in line`);
  $('queue-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  announcePosition(position, wait);
}

/**
 * The position for screen readers: a polite live region, told when the number changes but not more often than
 * every 20 s (the stream sends a position every few seconds), and at once for the last few places.
 */
function announcePosition(position, wait) {
  const last = state.announced;
  if (last.position === position) return;
  const now = Date.now();
  if (last.position !== null && now - last.at < ANNOUNCE_EVERY_MS && position > 3) return;
  state.announced = { position, at: now };
  $('queue-announce').textContent = `You are number ${number(position)} in line. Estimated wait: ${wait}.`;
}

/** Nothing left to buy: the stream has ended; the place is kept, and the page looks again now and then. */
function soldOut() {
  if (!state.queue) return;
  closeStream();
  showQueueParts('soldout');
  $('queue-concert').textContent = state.queue.concertName;
  connection('');
  stopSoldOutPolling();
  state.soldOutTimer = setTimeout(async () => {
    if (!state.queue || !state.auth) return;
    try {
      applyTicket(await userCall('GET', '/queues/status', { withQueue: true }));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) soldOut();
      else if (!signInError(e)) queueOver(e);
    }
  }, SOLD_OUT_POLL_MS);
}

function stopSoldOutPolling() {
  clearTimeout(state.soldOutTimer);
  state.soldOutTimer = null;
}

function connection(text) {
  $('queue-connection').textContent = text;
}

/**
 * The live position. EventSource reconnects by itself after a dropped connection (same URL, so the same queue
 * token and place). When the service refuses a reconnect, EventSource gives up; then the page asks the status
 * route what happened and, while still waiting, opens a new stream with the same token after a short pause.
 */
function openStream() {
  closeStream();
  if (!state.queue) return;
  const source = new EventSource(`/api/v1/queues/stream?token=${encodeURIComponent(state.queue.token)}`);
  state.stream = source;
  connection('Connecting…');
  source.addEventListener('open', () => {
    state.streamRetry = 0;
    connection('Live');
    armWatchdog();
  });
  source.addEventListener('prequeue', (event) => {
    const data = JSON.parse(event.data);
    connection('Live');
    armWatchdog();
    prequeue(data.opensAt, data.serverTime, data.commitment);
  });
  source.addEventListener('position', (event) => {
    const data = JSON.parse(event.data);
    connection('Live');
    armWatchdog();
    waiting(data.position, data.admission, data.estimatedWaitSeconds);
  });
  source.addEventListener('message', (event) => operatorMessage(JSON.parse(event.data).text));
  source.addEventListener('soldout', () => soldOut());
  source.addEventListener('active', (event) => {
    closeStream();
    admitted(JSON.parse(event.data).activeUntil);
  });
  source.addEventListener('expired', () => {
    closeStream();
    queueOver(new ApiError({ status: 401, code: 'TOKEN_EXPIRED' }));
  });
  source.addEventListener('error', () => {
    if (state.stream !== source) return;
    if (source.readyState === EventSource.CONNECTING) {
      connection('Connection lost, reconnecting…');
    } else {
      recoverStream();
    }
  });
}

function armWatchdog() {
  clearTimeout(state.streamWatchdog);
  state.streamWatchdog = setTimeout(() => {
    connection('Connection stalled, reconnecting…');
    openStream();
  }, STREAM_STALL_MS);
}

function closeStream() {
  clearTimeout(state.streamWatchdog);
  if (state.stream) state.stream.close();
  state.stream = null;
}

async function recoverStream() {
  closeStream();
  connection('Connection lost, reconnecting…');
  const delay = Math.min(30000, 1000 * 2 ** state.streamRetry++);
  await new Promise((resolve) => setTimeout(resolve, delay));
  if (!state.queue || !state.auth) return;
  try {
    applyTicket(await userCall('GET', '/queues/status', { withQueue: true }));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) recoverStream();
    else if (!signInError(e)) queueOver(e);
  }
}

function queueOver(error) {
  closeStream();
  stopSeatRefresh();
  stopSoldOutPolling();
  state.queue = null;
  save('queue', null);
  showQueueParts(null);
  show($('queue-draw'));
  show($('queue-operator'));
  $('queue-id').hidden = true;
  connection('');
  if (error) showError($('queue-message'), error);
  else show($('queue-message'), 'error', explain(new ApiError({ status: 401, code: 'TOKEN_EXPIRED' })).text);
}

async function leaveQueue() {
  if (!state.queue) {
    showQueueParts(null);
    $('queue-section').hidden = true;
    return;
  }
  try {
    await userCall('DELETE', '/queues/token', { withQueue: true });
  } catch (e) {
    if (signInError(e)) return;
    if (!(e instanceof ApiError) || e.status !== 401) {
      showError($('queue-message'), e);
      return;
    }
  }
  closeStream();
  stopSeatRefresh();
  stopSoldOutPolling();
  state.queue = null;
  save('queue', null);
  $('queue-section').hidden = true;
  $('booking-section').hidden = true;
  $('concerts-title').scrollIntoView({ block: 'start' });
}

// ---------------------------------------------------------------- admitted: seat map

async function admitted(activeUntil) {
  if (!state.queue) return;
  closeStream();
  stopSoldOutPolling();
  const firstTime = state.queue.status !== 'ACTIVE' || $('booking-section').hidden;
  state.queue.status = 'ACTIVE';
  state.queue.activeUntil = activeUntil;
  save('queue', state.queue);
  $('queue-section').hidden = true;
  $('booking-section').hidden = false;
  $('booking-title').textContent = `Pick your seats: ${state.queue.concertName}`;
  $('admitted-text').textContent = "You're in!";
  show($('booking-message'));
  tick();
  if (firstTime) {
    // The fan's turn: the tab's title says so (the tab may be in the background), the map's top comes into view
    // and focus moves to its heading, so a screen reader reads where the fan now is.
    document.title = `Your turn! – ${TITLE}`;
    $('booking-section').scrollIntoView({ block: 'start' });
    $('booking-title').focus();
  }
  const message = $('booking-message');
  const upcoming = await call('GET', `/concerts/${state.queue.concertId}/dates`).catch((e) => {
    showError(message, e);
    return { dates: [] };
  });
  if (!state.queue) return;
  state.dates = upcoming.dates;
  const select = $('date-select');
  select.replaceChildren(...state.dates.map((d) => el('option', { value: d.concertDateId },
    `${when(d.startsAt)} · ${d.venue}`)));
  if (!state.dates.some((d) => String(d.concertDateId) === String(state.dateId))) {
    state.dateId = state.dates.length ? state.dates[0].concertDateId : null;
  }
  select.value = state.dateId ?? '';
  state.selected = [];
  renderSelection();
  await loadSeats();
  startSeatRefresh();
  if (state.holds.length) showHolds();
}

/**
 * Refreshes the seat map: the date's layout once (public, immutable, cached by the browser too), then which seats
 * are free. After the first answer only what changed is asked (`?since=<version>`, with If-None-Match: a 304 when
 * nothing did). One refresh at a time; a call meanwhile runs once more after it, so answers apply in order.
 */
function loadSeats() {
  if (state.seatLoad) {
    state.seatLoadAgain = true;
    return state.seatLoad;
  }
  state.seatLoad = refreshSeats().finally(() => {
    state.seatLoad = null;
    if (state.seatLoadAgain) {
      state.seatLoadAgain = false;
      loadSeats();
    }
  });
  return state.seatLoad;
}

async function refreshSeats() {
  if (!state.queue || !state.auth || state.dateId === null) return;
  const dateId = String(state.dateId);
  try {
    if (!state.layouts.has(dateId)) {
      const layout = await call('GET', `/concerts/dates/${dateId}/layout`, { cache: 'default' });
      state.layouts.set(dateId, layoutSeats(layout));
    }
    const known = state.availability && state.availability.dateId === dateId && state.availability.version > 0
      ? state.availability : null; // version 0: the service answers unversioned, in full
    const answer = await userCall('GET', `/concerts/dates/${dateId}/availability${known ? `?since=${known.version}` : ''}`, {
      withQueue: true,
      headers: known ? { 'If-None-Match': `"${known.version}"` } : {},
    });
    if (!state.queue || String(state.dateId) !== dateId) return;
    let changed = [];
    if (answer) { // null: 304, nothing changed
      if (String(answer.concertDateId) !== dateId) return;
      const next = applyAvailability(known, answer);
      state.availability = { dateId, version: next.version, bits: next.bits };
      changed = next.changed;
    }
    const bits = state.availability.bits;
    if (state.seatsDate !== dateId) {
      state.seats = state.layouts.get(dateId).map((s) => ({ ...s, status: 'TAKEN' }));
      state.seatsDate = dateId;
      state.seatIndex = new Map(state.seats.map((s) => [s.seatNumber, s]));
      changed = null;
    }
    const touched = changed === null ? state.seats : changed.map((n) => state.seatIndex.get(n)).filter(Boolean);
    for (const seat of touched) seat.status = isFree(bits, seat.seatNumber) ? 'AVAILABLE' : 'TAKEN';
    renderSeats(changed === null ? null : touched);
  } catch (e) {
    if (state.paying || !state.queue) return; // the payment ends the pass: a map asked meanwhile is refused, and moot
    if (e instanceof ApiError && (e.code === 'TOKEN_EXPIRED' || e.code === 'TOKEN_INVALID')) queueOver(e);
    else if (!signInError(e)) showError($('booking-message'), e);
  }
}

function startSeatRefresh() {
  stopSeatRefresh();
  let rounds = 0;
  state.seatTimer = setInterval(() => {
    if (document.hidden || $('booking-section').hidden) return;
    loadSeats();
    if (state.holds.length && ++rounds % 5 === 0) refreshReservations(); // holds paid or cancelled elsewhere
  }, SEAT_REFRESH_MS);
}

function stopSeatRefresh() {
  clearInterval(state.seatTimer);
  state.seatTimer = null;
}

/** Seats this fan may still pick for this concert: the limit less what they already hold or bought (the service decides). */
function ticketLimit() {
  return (state.queue && state.queue.ticketLimit) || DEFAULT_TICKET_LIMIT;
}

function seatsLeftToPick() {
  if (!state.queue) return 0;
  const mine = state.reservations.filter((r) => String(r.concertId) === String(state.queue.concertId)
    && (r.status === 'PAID' || (r.status === 'HELD' && Date.parse(r.heldUntil) > serverNow()))).length;
  return Math.max(0, ticketLimit() - mine);
}

/**
 * Seats by grade in the order of the layout; taken seats are marked but still the service's to refuse.
 * The map is built once per date (the layout never changes); a refresh updates the seats that changed in place
 * (`touched`, or all when null), so focus, a click in progress and scrolling survive.
 * The "updated" time is plain text, not a live region: a screen reader is not told about it every 3 s.
 */
function renderSeats(touched = null) {
  const grades = new Map();
  let free = 0;
  for (const seat of state.seats) {
    if (!grades.has(seat.grade)) grades.set(seat.grade, { seats: [], free: 0 });
    const group = grades.get(seat.grade);
    group.seats.push(seat);
    if (seat.status === 'AVAILABLE') {
      group.free++;
      free++;
    }
  }
  $('seat-summary').textContent = `${number(free)} of ${number(state.seats.length)} seats free · updated ${new Date().toLocaleTimeString()}`;
  const map = $('seat-map');
  if (map.dataset.layout !== state.seatsDate) {
    map.dataset.layout = state.seatsDate;
    map.replaceChildren(...[...grades].map(([grade, group]) => gradeGroup(grade, group.seats)), legend());
    touched = null;
  }
  for (const [grade, group] of grades) {
    map.querySelector(`.free-count[data-grade="${CSS.escape(grade)}"]`).textContent = `(${number(group.free)} free)`;
  }
  for (const seat of touched || state.seats) seatLooks(map.querySelector(`.seats [data-seat="${seat.seatNumber}"]`), seat);
  renderSelection();
}

function gradeGroup(grade, seats) {
  const prices = [...new Set(seats.map((s) => s.price))];
  const heading = `grade-${Math.random().toString(36).slice(2)}`;
  const grid = el('div', { class: 'seats', role: 'group', 'aria-labelledby': heading });
  const tabStop = seats.find((s) => s.status === 'AVAILABLE') || seats[0];
  for (const seat of seats) {
    const button = el('button', { type: 'button', class: 'seat', dataset: { seat: seat.seatNumber }, tabindex: seat === tabStop ? '0' : '-1' },
      String(seat.seatNumber));
    button.addEventListener('click', () => toggleSeat(seat.seatNumber));
    grid.append(button);
  }
  grid.addEventListener('keydown', moveFocus);
  return el('div', { class: 'grade' },
    el('h3', { id: heading }, `${grade} · ${prices.map(won).join(' / ')} `, el('span', { class: 'muted free-count', dataset: { grade } })),
    grid);
}

function seatLooks(button, seat) {
  const taken = seat.status !== 'AVAILABLE';
  const mine = state.selected.includes(seat.seatNumber);
  button.className = `seat${taken ? ' taken' : ''}${mine ? ' selected' : ''}`;
  button.setAttribute('aria-pressed', mine ? 'true' : 'false');
  button.setAttribute('aria-label', `Seat ${seat.seatNumber}, ${seat.grade}, ${won(seat.price)}, ${taken ? 'taken' : 'free'}`);
  button.title = `Seat ${seat.seatNumber} · ${seat.grade} · ${won(seat.price)}${taken ? ' · taken' : ''}`;
}

function legend() {
  return el('p', { class: 'legend muted' },
    el('span', { class: 'seat sample' }, ''), ' free ',
    el('span', { class: 'seat sample taken' }, ''), ' taken ',
    el('span', { class: 'seat sample selected' }, ''), ' your choice');
}

/** Arrow keys move within a grade's grid (one tab stop per grade); Enter or Space picks. */
function moveFocus(event) {
  const buttons = [...event.currentTarget.querySelectorAll('.seat')];
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  const perRow = Math.max(1, buttons.filter((b) => b.offsetTop === buttons[0].offsetTop).length);
  const target = {
    ArrowRight: index + 1, ArrowLeft: index - 1, ArrowDown: index + perRow, ArrowUp: index - perRow,
    Home: 0, End: buttons.length - 1,
  }[event.key];
  if (target === undefined) return;
  event.preventDefault();
  const next = buttons[Math.min(buttons.length - 1, Math.max(0, target))];
  buttons[index].tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
}

/** Picks or unpicks a seat; beyond the ticket limit the page says why instead of picking. */
function toggleSeat(seatNumber) {
  if (!state.queue) return;
  show($('booking-message'));
  if (state.selected.includes(seatNumber)) {
    state.selected = state.selected.filter((n) => n !== seatNumber);
  } else if (state.selected.length >= seatsLeftToPick()) {
    const limit = ticketLimit();
    show($('booking-message'), 'error', seatsLeftToPick() === 0
      ? `You already have ${limit} seat${limit === 1 ? '' : 's'} for this concert, as many as one fan may have.`
      : `You can pick up to ${seatsLeftToPick()} seat${seatsLeftToPick() === 1 ? '' : 's'} (${limit} per fan for this concert). Unpick one to choose another.`);
    return;
  } else {
    state.selected = [...state.selected, seatNumber];
  }
  $('seat-map').querySelectorAll('.seat[data-seat]').forEach((b) => {
    const mine = state.selected.includes(Number(b.dataset.seat));
    b.classList.toggle('selected', mine);
    b.setAttribute('aria-pressed', mine ? 'true' : 'false');
  });
  renderSelection();
}

function pickedSeats() {
  return state.selected.map((n) => state.seatIndex.get(n)).filter(Boolean);
}

function renderSelection() {
  const left = seatsLeftToPick();
  $('seat-limit').textContent = state.queue
    ? `Pick up to ${left} seat${left === 1 ? '' : 's'} (${ticketLimit()} per fan for this concert), then hold them while you pay.`
    : '';
  const seats = pickedSeats();
  $('selection').hidden = seats.length === 0;
  if (!seats.length) return;
  const total = seats.reduce((sum, s) => sum + s.price, 0);
  const taken = seats.filter((s) => s.status !== 'AVAILABLE').length;
  $('selection-text').textContent = `${seats.length === 1 ? 'Seat' : 'Seats'} ${seats.map((s) => s.seatNumber).join(', ')} · ${won(total)}`
    + (taken ? ` · ${taken === 1 ? 'one is' : `${taken} are`} shown as taken` : '');
  $('hold-button').textContent = seats.length === 1 ? `Hold seat ${seats[0].seatNumber}` : `Hold ${seats.length} seats`;
}

/**
 * Holds the picked seats, one request per seat (the service holds one seat per request). Seats someone else took
 * meanwhile are named; the ones held are kept and can be paid together.
 */
async function holdSeats() {
  if (state.holding || !state.queue || !state.auth) return;
  const seats = pickedSeats();
  if (!seats.length) return;
  state.holding = true;
  const button = $('hold-button');
  button.disabled = true;
  show($('booking-message'), 'info', seats.length === 1 ? 'Holding your seat…' : 'Holding your seats…');
  const held = [];
  const refused = [];
  let stop = null;
  for (const seat of seats) {
    if (!state.queue) break;
    try {
      held.push(await userCall('POST', '/reservations', {
        withQueue: true,
        body: { userId: Number(state.auth.userId), concertDateId: Number(state.dateId), seatNumber: seat.seatNumber },
      }));
    } catch (e) {
      refused.push({ seat, error: e });
      if (!(e instanceof ApiError) || e.code !== 'SEAT_UNAVAILABLE') { stop = e; break; }
    }
  }
  state.holding = false;
  button.disabled = false;
  state.selected = state.selected.filter((n) => !held.some((r) => r.seatNumber === n));
  if (held.length) {
    addHolds(held);
    refreshReservations();
  }
  if (stop && signInError(stop)) return;
  if (stop && stop instanceof ApiError && (stop.code === 'TOKEN_EXPIRED' || stop.code === 'TOKEN_INVALID')) {
    queueOver(stop);
    return;
  }
  if (refused.length) {
    const { text, detail } = explain(refused[refused.length - 1].error);
    const which = refused.map((r) => r.seat.seatNumber).join(', ');
    show($('booking-message'), 'error', held.length
      ? `Held ${held.map((r) => r.seatNumber).join(', ')}, but not ${which}: ${text}`
      : (refused.length > 1 ? `Seats ${which}: ${text}` : text), detail);
    if (!held.length) $('booking-message').scrollIntoView({ block: 'nearest' });
  } else {
    show($('booking-message'));
  }
  loadSeats();
  if (held.length) {
    // Focus follows the fan to the next step: the held seats and the Pay button.
    $('hold-section').scrollIntoView({ block: 'start' });
    $('hold-title').focus();
  }
  renderSelection();
}

// ---------------------------------------------------------------- holds and payment

function addHolds(held) {
  // The reservation bodies name concert, date, venue and grade (SPEC 3); what the page showed fills any gap.
  const date = state.dates.find((d) => String(d.concertDateId) === String(state.dateId)) || {};
  const reservations = held.map((r) => ({
    ...r,
    grade: r.grade || (state.seats.find((s) => s.seatNumber === r.seatNumber) || {}).grade,
    concertName: r.concertName || (state.queue && state.queue.concertName),
    startsAt: r.startsAt || date.startsAt,
    venue: r.venue || date.venue,
  }));
  const ids = new Set(reservations.map((r) => r.reservationId));
  state.holds = [...state.holds.filter((h) => !ids.has(h.reservationId)), ...reservations];
  state.payment = null;
  saveHolds();
  showHolds();
}

function saveHolds() {
  save('holds', state.holds.length ? state.holds : null);
}

/**
 * Holds still running (their heldUntil in the future on the service's clock), of one concert date: one payment
 * covers one date (SPEC 3); holds of another date are paid after these.
 */
function liveHolds() {
  const live = state.holds.filter((h) => Date.parse(h.heldUntil) > serverNow());
  if (!live.length) return live;
  const date = live.some((h) => String(h.concertDateId) === String(state.dateId)) ? String(state.dateId) : String(live[0].concertDateId);
  return live.filter((h) => String(h.concertDateId) === date);
}

function showHolds() {
  const holds = state.holds;
  $('hold-section').hidden = holds.length === 0;
  if (!holds.length) return;
  const live = liveHolds();
  $('hold-list').replaceChildren(...holds.map((h) => {
    const over = Date.parse(h.heldUntil) <= serverNow();
    return el('li', { class: over ? 'over' : null, dataset: { reservation: h.reservationId } },
      el('strong', {}, `Seat ${h.seatNumber}`), h.grade ? ` · ${h.grade}` : '', ` · ${won(h.price)}`,
      el('span', { class: 'muted small' }, ` · #${h.reservationId}`),
      over ? el('span', { class: 'status expired' }, ' hold ran out') : null);
  }));
  const total = live.reduce((sum, h) => sum + h.price, 0);
  $('pay-bar').hidden = live.length === 0;
  $('pay-total').textContent = `${live.length} seat${live.length === 1 ? '' : 's'} · ${won(total)}`;
  $('pay-button').textContent = live.length === 1 ? `Pay ${won(total)}` : `Pay ${won(total)} for ${live.length} seats`;
  tick();
}

function clearHolds() {
  state.holds = [];
  state.payment = null;
  saveHolds();
  $('hold-section').hidden = true;
}

/**
 * One Pay for every live hold: one payment, one debit, all or none (SPEC 3). One payment attempt = one
 * Idempotency-Key. A second click while it runs does nothing; a retry after a lost answer, a busy service or
 * "still processing" reuses the key, so the service replays instead of paying twice. A clear refusal (too low a
 * balance, an expired hold) ends the attempt: the next press is a new attempt.
 */
async function pay() {
  if (state.paying || !state.auth) return;
  const holds = liveHolds();
  if (!holds.length || !state.queue) {
    showHolds();
    return;
  }
  const ids = holds.map((h) => h.reservationId);
  if (!state.payment || state.payment.ids.join() !== ids.join()) state.payment = { key: uuid(), ids };
  state.paying = true;
  stopSeatRefresh(); // paying ends the pass: no map refresh races it (it would be refused)
  const button = $('pay-button');
  button.disabled = true;
  show($('pay-message'), 'info', 'Paying…');
  try {
    const paid = await userCall('POST', '/payments/pay', {
      withQueue: true,
      headers: { 'Idempotency-Key': state.payment.key },
      body: ids.length === 1
        ? { reservationId: ids[0], userId: Number(state.auth.userId) }
        : { reservationIds: ids, userId: Number(state.auth.userId) },
    });
    clearHolds();
    stopSeatRefresh();
    state.queue = null;
    save('queue', null);
    state.selected = [];
    $('booking-section').hidden = true;
    document.title = TITLE;
    setBalance(paid.balance);
    show($('pay-message'));
    confirmation(paid, holds);
    refreshReservations();
    loadConcerts();
  } catch (e) {
    const sameAttempt = e instanceof ApiError
      && (e.status === 0 || e.status >= 500 || e.code === 'IDEMPOTENCY_IN_PROGRESS');
    if (!sameAttempt) state.payment = null;
    if (state.queue) startSeatRefresh();
    if (signInError(e)) return;
    showError($('pay-message'), e);
    if (e instanceof ApiError && (e.code === 'HOLD_EXPIRED' || e.code === 'RESERVATION_NOT_PAYABLE')) {
      refreshReservations().then(() => {
        const stillHeld = new Set(state.reservations.filter((r) => r.status === 'HELD').map((r) => r.reservationId));
        state.holds = state.holds.filter((h) => stillHeld.has(h.reservationId));
        saveHolds();
        showHolds();
      });
      loadSeats();
    }
    if (e instanceof ApiError && e.code === 'TOKEN_EXPIRED') queueOver(e);
  } finally {
    state.paying = false;
    button.disabled = false;
  }
}

/** The confirmation a fan keeps: what, when, where, which seats, how much, the balance left and the numbers. */
function confirmation(paid, holds) {
  const paidIds = new Set((paid.reservationIds || [paid.reservationId]).map(String));
  const bought = holds.filter((h) => paidIds.has(String(h.reservationId)));
  const first = bought[0] || holds[0];
  const date = state.dates.find((d) => String(d.concertDateId) === String(first.concertDateId)) || {};
  const grades = [...new Set(bought.map((h) => h.grade).filter(Boolean))];
  const rows = [
    ['Concert', first.concertName || $('booking-title').textContent.replace(/^Pick your seats: /, '')],
    ['Date', when(first.startsAt || date.startsAt)],
    ['Venue', first.venue || date.venue || '–'],
    ['Seats', bought.map((h) => `${h.seatNumber}${h.grade ? ` (${h.grade})` : ''}`).join(', ')],
    ['Grade', grades.join(', ') || '–'],
    ['Amount paid', won(paid.amount)],
    ['Balance now', won(paid.balance)],
    ['Reservation numbers', bought.map((h) => `#${h.reservationId}`).join(', ')],
    ['Payment', `#${paid.paymentId} · ${when(paid.paidAt)}`],
  ];
  $('confirmation-details').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { field: k } }, v)]));
  $('confirmation-section').hidden = false;
  $('confirmation-section').scrollIntoView({ block: 'start' });
  $('confirmation-title').focus();
}

// ---------------------------------------------------------------- countdowns

function tick() {
  if (state.upcoming && !$('queue-upcoming').hidden) {
    const left = (Date.parse(state.upcoming.prequeueOpensAt) - serverNow()) / 1000;
    $('upcoming-countdown').textContent = clock(left);
    if (left <= 0 && !state.upcoming.joining) {
      // The pre-queue opens now: join it (the service decides by its own clock; a refusal shows its words).
      state.upcoming.joining = true;
      joinQueue(state.upcoming.concert, $('queue-message'), null).finally(() => { if (state.upcoming) state.upcoming.joining = false; });
    }
  }
  if (state.queue && state.queue.status === 'PREQUEUE' && !$('queue-prequeue').hidden) {
    const left = (Date.parse(state.queue.opensAt) - serverNow()) / 1000;
    $('prequeue-countdown').textContent = left > 0 ? clock(left) : 'now: the draw is being made…';
  }
  if (state.queue && state.queue.activeUntil && !$('booking-section').hidden) {
    const left = (Date.parse(state.queue.activeUntil) - serverNow()) / 1000;
    $('admitted-time').textContent = left > 0
      ? `You have ${clock(left)} to choose and pay.`
      : 'Your booking time is over; the service will tell you if it has ended.';
  }
  if (state.holds.length && !$('hold-section').hidden) {
    const live = liveHolds();
    const soonest = Math.min(...live.map((h) => Date.parse(h.heldUntil)));
    const left = live.length ? (soonest - serverNow()) / 1000 : 0;
    $('hold-countdown').textContent = left > 0 ? clock(left) : '0:00 (the hold has run out)';
    $('hold-section').classList.toggle('urgent', left > 0 && left <= 60);
    // At 0:00 a hold is over: its seat leaves the payment (and Pay goes when none is left).
    const shown = $('hold-list').querySelectorAll('li:not(.over)').length;
    if (shown !== state.holds.filter((h) => Date.parse(h.heldUntil) > serverNow()).length) {
      showHolds();
      if (!live.length) show($('pay-message'), 'error', explain(new ApiError({ status: 409, code: 'HOLD_EXPIRED' })).text);
    }
  }
}

// ---------------------------------------------------------------- wallet and reservations

function setBalance(balance) {
  $('balance').textContent = won(balance);
  $('wallet-balance').textContent = won(balance);
}

async function refreshBalance() {
  try {
    setBalance((await userCall('GET', `/users/${state.auth.userId}/balance`)).balance);
  } catch (e) {
    if (!signInError(e)) showError($('wallet-message'), e);
  }
}

async function topUp(event) {
  event.preventDefault();
  if (!state.auth) return;
  const button = $('top-up-button');
  button.disabled = true;
  show($('wallet-message'));
  const raw = $('top-up-amount').value.trim().replace(/,/g, '');
  // The amount goes as typed (a number when it is one): the service alone says what it accepts.
  const amount = /^-?\d+$/.test(raw) ? Number(raw) : raw;
  try {
    const result = await userCall('PATCH', `/users/${state.auth.userId}/charge`, { body: { amount } });
    setBalance(result.balance);
    $('top-up-amount').value = '';
    show($('wallet-message'), 'ok', `Added ${won(amount)}. Your balance is now ${won(result.balance)}.`);
  } catch (e) {
    if (!signInError(e)) showError($('wallet-message'), e);
  } finally {
    button.disabled = false;
  }
}

const STATUS_WORDS = { HELD: 'Held', PAID: 'Paid', CANCELLED: 'Cancelled', EXPIRED: 'Expired' };

async function refreshReservations() {
  if (!state.auth) return;
  try {
    state.reservations = await userCall('GET', `/reservations/${state.auth.userId}`);
    reconcileHolds();
    renderReservations();
    renderSelection();
  } catch (e) {
    if (!signInError(e)) showError($('reservations-message'), e);
  }
}

/**
 * The service's list is the truth about holds: a hold paid, cancelled or expired elsewhere leaves the payment, a
 * moved heldUntil moves the countdown, and while admitted every live hold of this concert can be paid (also one
 * made before a reload or in another tab), so no hold is left unpayable.
 */
function reconcileHolds() {
  const byId = new Map(state.reservations.map((r) => [r.reservationId, r]));
  let holds = state.holds
    .filter((h) => !byId.has(h.reservationId) || byId.get(h.reservationId).status === 'HELD')
    .map((h) => (byId.has(h.reservationId) ? { ...h, heldUntil: byId.get(h.reservationId).heldUntil } : h));
  if (state.queue && state.queue.status === 'ACTIVE') {
    const known = new Set(holds.map((h) => h.reservationId));
    holds = holds.concat(state.reservations.filter((r) => r.status === 'HELD' && !known.has(r.reservationId)
      && String(r.concertId) === String(state.queue.concertId) && Date.parse(r.heldUntil) > serverNow()));
  }
  const changed = holds.length !== state.holds.length
    || holds.some((h, i) => h.reservationId !== state.holds[i].reservationId || h.heldUntil !== state.holds[i].heldUntil);
  if (!changed) return;
  state.holds = holds;
  saveHolds();
  showHolds();
}

/** Grouped by concert and date (newest first, as the service lists them), each group naming what, when and where. */
function renderReservations() {
  const groups = new Map();
  for (const r of state.reservations) {
    const key = `${r.concertId}|${r.concertDateId}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const list = $('reservations');
  if (groups.size === 0) {
    list.replaceChildren(el('p', { class: 'muted' }, 'No reservations yet.'));
    return;
  }
  list.replaceChildren(...[...groups.values()].map((items) => {
    const r = items[0];
    const title = r.concertName || `Concert #${r.concertId}`;
    return el('section', { class: 'reservation-group', dataset: { concertDate: r.concertDateId } },
      el('h3', {}, title),
      el('p', { class: 'muted small' }, r.startsAt ? when(r.startsAt) : `Date #${r.concertDateId}`, r.venue ? ` · ${r.venue}` : ''),
      el('ul', {}, ...items.map(reservationItem)));
  }));
}

function reservationItem(r) {
  const message = el('p', { role: 'alert', hidden: true });
  const cancellable = r.status === 'HELD' || r.status === 'PAID';
  const cancel = cancellable ? el('button', { type: 'button', class: 'secondary small' }, r.status === 'PAID' ? 'Cancel and refund' : 'Cancel') : null;
  if (cancel) cancel.addEventListener('click', () => confirmCancel(r, cancel, message));
  return el('li', { class: 'reservation', dataset: { reservation: r.reservationId, status: r.status } },
    el('div', {},
      el('strong', {}, `Seat ${r.seatNumber}`), r.grade ? ` · ${r.grade}` : '', ` · ${won(r.price)} · `,
      el('span', { class: `status ${r.status.toLowerCase()}` }, STATUS_WORDS[r.status] || r.status)),
    el('div', { class: 'muted small' }, `Reservation #${r.reservationId}`,
      r.paidAt ? ` · paid ${when(r.paidAt)}` : '',
      r.status === 'HELD' ? ` · held until ${new Date(r.heldUntil).toLocaleTimeString()}` : ''),
    cancel, message);
}

/** Cancel asks once more in the page (no blocking dialog), then the service decides. */
function confirmCancel(r, button, message) {
  const yes = el('button', { type: 'button', class: 'danger small' }, 'Yes, cancel');
  const no = el('button', { type: 'button', class: 'secondary small' }, 'Keep it');
  const ask = el('div', { class: 'confirm' },
    r.status === 'PAID' ? `Cancel seat ${r.seatNumber} and get ${won(r.price)} back?` : `Release seat ${r.seatNumber}?`, ' ', yes, ' ', no);
  button.replaceWith(ask);
  yes.focus();
  no.addEventListener('click', () => { ask.replaceWith(button); button.focus(); });
  yes.addEventListener('click', async () => {
    if (!state.auth) return;
    yes.disabled = true;
    try {
      const result = await userCall('DELETE', `/reservations/${r.reservationId}?userId=${state.auth.userId}`);
      if (state.holds.some((h) => h.reservationId === r.reservationId)) {
        state.holds = state.holds.filter((h) => h.reservationId !== r.reservationId);
        state.payment = null;
        saveHolds();
        showHolds();
      }
      show($('reservations-message'), 'ok', result.refunded
        ? `Cancelled seat ${r.seatNumber}; ${won(result.refunded)} went back to your balance.`
        : `Cancelled seat ${r.seatNumber}; it is free for others again.`);
      refreshReservations();
      refreshBalance();
      loadConcerts();
      if (state.queue) loadSeats();
    } catch (e) {
      ask.replaceWith(button);
      if (!signInError(e)) showError(message, e);
    }
  });
}

// ---------------------------------------------------------------- start

function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('all-concerts').addEventListener('click', () => { history.pushState(null, '', '/'); loadConcerts(); });
  window.addEventListener('hashchange', () => { if (state.auth) loadConcerts(); });
  window.addEventListener('popstate', () => { if (state.auth) loadConcerts(); });
  $('concerts-prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadConcerts(); });
  $('concerts-next').addEventListener('click', () => { state.page += 1; loadConcerts(); });
  $('leave-queue').addEventListener('click', leaveQueue);
  $('date-select').addEventListener('change', (e) => {
    state.dateId = e.target.value;
    state.selected = [];
    state.seats = [];
    state.seatsDate = null;
    state.seatIndex = new Map();
    state.availability = null;
    $('seat-map').replaceChildren();
    delete $('seat-map').dataset.layout;
    renderSelection();
    loadSeats();
  });
  $('hold-button').addEventListener('click', holdSeats);
  $('pay-button').addEventListener('click', pay);
  $('confirmation-close').addEventListener('click', () => {
    $('confirmation-section').hidden = true;
    $('reservations-title').scrollIntoView({ block: 'start' });
  });
  $('top-up-form').addEventListener('submit', topUp);
  state.ticker = setInterval(tick, 250);
  const auth = load('auth');
  const signedOut = sessionStorage.getItem('signed-out');
  sessionStorage.removeItem('signed-out');
  if (auth && auth.accessToken && (auth.refreshToken || auth.expiresAt > Date.now() + 5000)) {
    state.auth = auth;
    scheduleRenewal();
    enterApp();
  } else {
    $('sign-in-view').hidden = false;
    if (signedOut) show($('sign-in-message'), 'ok', 'You have signed out. Nothing of your session is left on this page.');
    else if (auth && auth.username) {
      // The sign-in ran out while the page was closed: the queue pass stays for the same fan.
      state.queue = load('queue');
      state.holds = load('holds') || [];
      $('sign-in-keep').hidden = !state.queue;
      $('username').value = auth.username;
    }
    $('username').focus();
  }
}

start();
