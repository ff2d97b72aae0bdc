// The fan page: sign in, browse, wait in the queue (live over EventSource), pick and hold a seat, pay, top up,
// see and cancel reservations. Everything the page decides comes from the service's answers (SPEC sections 3, 11).
import { ApiError, call, clock, duration, el, explain, number, serverNow, show, showError, syncServerTime, uuid, when, won } from './api.js';

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;
const SEAT_REFRESH_MS = 3000;
/** Position events arrive at least every 5 s while waiting; this long without one means the stream is stuck. */
const STREAM_STALL_MS = 15000;
/** While sold out the stream has ended; the page asks this often whether seats came back. */
const SOLD_OUT_POLL_MS = 10000;

const state = {
  auth: null,        // {accessToken, userId, username, expiresAt}
  page: 0,
  queue: null,       // {token, concertId, concertName, status, opensAt, commitment, queueId, activeUntil}
  upcoming: null,    // {concert, prequeueOpensAt, opensAt, joining}: a sale whose pre-queue has not opened
  stream: null,      // EventSource
  soldOutTimer: null,
  streamRetry: 0,
  streamWatchdog: null,
  dates: [],
  dateId: null,
  seats: [],
  selected: null,    // seat number
  seatTimer: null,
  hold: null,        // reservation being paid
  payment: null,     // {key, reservationId}: the attempt in progress, reused on retry
  paying: false,
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

function userHeaders(extra = {}) {
  return { Authorization: `Bearer ${state.auth.accessToken}`, ...extra };
}

function queueHeaders(extra = {}) {
  return userHeaders({ 'Queue-Token': state.queue.token, ...extra });
}

/** Every user call: an expired sign-in sends the fan back to the sign-in form with the reason. */
async function userCall(method, path, options = {}) {
  try {
    return await call(method, path, { ...options, headers: userHeaders(options.headers) });
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') signOut(e);
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
    state.auth = {
      accessToken: token.accessToken,
      userId: subjectOf(token.accessToken),
      username,
      expiresAt: Date.now() + token.expiresIn * 1000,
    };
    save('auth', state.auth);
    $('password').value = '';
    enterApp();
  } catch (e) {
    showError($('sign-in-message'), e);
  } finally {
    button.disabled = false;
  }
}

function signOut(reason) {
  closeStream();
  stopSeatRefresh();
  stopSoldOutPolling();
  state.auth = null;
  state.queue = null;
  state.upcoming = null;
  state.hold = null;
  state.payment = null;
  sessionStorage.clear();
  $('app-view').hidden = true;
  $('account').hidden = true;
  $('sign-in-view').hidden = false;
  if (reason instanceof ApiError) showError($('sign-in-message'), reason);
  else show($('sign-in-message'));
  $('username').focus();
}

function enterApp() {
  $('sign-in-view').hidden = true;
  $('app-view').hidden = false;
  $('account').hidden = false;
  $('who').textContent = `Signed in as ${state.auth.username}`;
  loadConcerts();
  refreshBalance();
  refreshReservations();
  resumeQueue();
  $('main').focus();
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
    state.queue = { token: ticket.token, concertId: concert.concertId, concertName: concert.name };
    save('queue', state.queue);
    show($('queue-message'));
    applyTicket(ticket);
    $('queue-section').scrollIntoView({ block: 'start' });
  } catch (e) {
    if (e instanceof ApiError && e.code === 'SALE_NOT_OPEN' && e.problem.prequeueOpensAt) upcoming(concert, e.problem);
    else showError(message, e);
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
  state.hold = load('hold');
  if (!state.queue) return;
  try {
    applyTicket(await call('GET', '/queues/status', { headers: queueHeaders() }));
  } catch (e) {
    queueOver(e);
  }
}

function applyTicket(ticket) {
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
  if (state.queue.status === 'PREQUEUE') {
    // The moment of the draw: the pre-queue just got its places.
    show($('queue-draw'), 'ok', `The sale is open and the draw is done: you are number ${number(position)} in line.`);
  }
  state.queue.status = 'WAITING';
  save('queue', state.queue);
  showQueueParts('waiting');
  $('queue-concert').textContent = state.queue.concertName;
  $('queue-position').textContent = number(position);
  $('queue-wait').textContent = ADMISSION_WORDS[admission]
    || (estimatedWaitSeconds === null || estimatedWaitSeconds === undefined ? 'not known yet' : `about ${duration(estimatedWaitSeconds)}`);
}

/** Nothing left to buy: the stream has ended; the place is kept, and the page looks again now and then. */
function soldOut() {
  closeStream();
  showQueueParts('soldout');
  $('queue-concert').textContent = state.queue.concertName;
  connection('');
  stopSoldOutPolling();
  state.soldOutTimer = setTimeout(async () => {
    if (!state.queue) return;
    try {
      applyTicket(await call('GET', '/queues/status', { headers: queueHeaders() }));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) soldOut();
      else queueOver(e);
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
  if (!state.queue) return;
  try {
    applyTicket(await call('GET', '/queues/status', { headers: queueHeaders() }));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) recoverStream();
    else queueOver(e);
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
  try {
    await call('DELETE', '/queues/token', { headers: queueHeaders() });
  } catch (e) {
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
}

// ---------------------------------------------------------------- admitted: seat map

async function admitted(activeUntil) {
  closeStream();
  stopSoldOutPolling();
  state.queue.status = 'ACTIVE';
  state.queue.activeUntil = activeUntil;
  save('queue', state.queue);
  $('queue-section').hidden = true;
  $('booking-section').hidden = false;
  $('booking-title').textContent = `Pick your seat: ${state.queue.concertName}`;
  show($('booking-message'));
  tick();
  const message = $('booking-message');
  const upcoming = await call('GET', `/concerts/${state.queue.concertId}/dates`).catch((e) => {
    showError(message, e);
    return { dates: [] };
  });
  state.dates = upcoming.dates;
  const select = $('date-select');
  select.replaceChildren(...state.dates.map((d) => el('option', { value: d.concertDateId },
    `${when(d.startsAt)} · ${d.venue}`)));
  if (!state.dates.some((d) => String(d.concertDateId) === String(state.dateId))) {
    state.dateId = state.dates.length ? state.dates[0].concertDateId : null;
  }
  select.value = state.dateId ?? '';
  state.selected = null;
  renderSelection();
  await loadSeats();
  startSeatRefresh();
  if (state.hold) showHold(state.hold);
}

async function loadSeats() {
  if (!state.queue || state.dateId === null) return;
  try {
    const map = await userCall('GET', `/concerts/dates/${state.dateId}/seats?status=all`, { headers: { 'Queue-Token': state.queue.token } });
    if (String(map.concertDateId) !== String(state.dateId)) return;
    state.seats = map.seats;
    renderSeats();
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'TOKEN_EXPIRED' || e.code === 'TOKEN_INVALID')) queueOver(e);
    else showError($('booking-message'), e);
  }
}

function startSeatRefresh() {
  stopSeatRefresh();
  state.seatTimer = setInterval(() => {
    if (!document.hidden && !$('booking-section').hidden) loadSeats();
  }, SEAT_REFRESH_MS);
}

function stopSeatRefresh() {
  clearInterval(state.seatTimer);
  state.seatTimer = null;
}

/**
 * Seats by grade in the order the map gives them; taken seats are marked but still the service's to refuse.
 * A refresh of the same date updates the buttons in place, so focus, a click in progress and scrolling survive.
 */
function renderSeats() {
  const grades = new Map();
  for (const seat of state.seats) {
    if (!grades.has(seat.grade)) grades.set(seat.grade, []);
    grades.get(seat.grade).push(seat);
  }
  const free = state.seats.filter((s) => s.status === 'AVAILABLE').length;
  $('seat-summary').textContent = `${number(free)} of ${number(state.seats.length)} seats free · updated ${new Date().toLocaleTimeString()}`;
  const map = $('seat-map');
  const layout = state.seats.map((s) => `${s.seatNumber}:${s.grade}`).join(',');
  if (map.dataset.layout !== `${state.dateId}|${layout}`) {
    map.dataset.layout = `${state.dateId}|${layout}`;
    map.replaceChildren(...[...grades].map(([grade, seats]) => gradeGroup(grade, seats)), legend());
  }
  for (const [grade, seats] of grades) {
    const freeHere = seats.filter((s) => s.status === 'AVAILABLE').length;
    map.querySelector(`.free-count[data-grade="${CSS.escape(grade)}"]`).textContent = `(${number(freeHere)} free)`;
    for (const seat of seats) seatLooks(map.querySelector(`.seats [data-seat="${seat.seatNumber}"]`), seat);
  }
  renderSelection();
}

function gradeGroup(grade, seats) {
  const prices = [...new Set(seats.map((s) => s.price))];
  const grid = el('div', { class: 'seats', role: 'group', 'aria-label': `${grade} seats` });
  const tabStop = seats.find((s) => s.status === 'AVAILABLE') || seats[0];
  for (const seat of seats) {
    const button = el('button', { type: 'button', class: 'seat', dataset: { seat: seat.seatNumber }, tabindex: seat === tabStop ? '0' : '-1' },
      String(seat.seatNumber));
    button.addEventListener('click', () => selectSeat(seat.seatNumber));
    grid.append(button);
  }
  grid.addEventListener('keydown', moveFocus);
  return el('div', { class: 'grade' },
    el('h3', {}, `${grade} · ${prices.map(won).join(' / ')} `, el('span', { class: 'muted free-count', dataset: { grade } })),
    grid);
}

function seatLooks(button, seat) {
  const taken = seat.status !== 'AVAILABLE';
  const mine = seat.seatNumber === state.selected;
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

function selectSeat(seatNumber) {
  state.selected = seatNumber;
  show($('booking-message'));
  $('seat-map').querySelectorAll('.seat[data-seat]').forEach((b) => {
    const mine = Number(b.dataset.seat) === seatNumber;
    b.classList.toggle('selected', mine);
    b.setAttribute('aria-pressed', mine ? 'true' : 'false');
  });
  renderSelection();
}

function renderSelection() {
  const seat = state.seats.find((s) => s.seatNumber === state.selected);
  $('selection').hidden = !seat;
  if (!seat) return;
  $('selection-text').textContent = `Seat ${seat.seatNumber} · ${seat.grade} · ${won(seat.price)}`
    + (seat.status === 'AVAILABLE' ? '' : ' · shown as taken');
  $('hold-button').textContent = `Hold seat ${seat.seatNumber}`;
}

async function holdSeat() {
  const button = $('hold-button');
  if (button.disabled) return;
  button.disabled = true;
  show($('booking-message'));
  try {
    const reservation = await userCall('POST', '/reservations', {
      headers: { 'Queue-Token': state.queue.token },
      body: { userId: Number(state.auth.userId), concertDateId: Number(state.dateId), seatNumber: state.selected },
    });
    state.payment = null;
    state.selected = null;
    showHold(reservation);
    refreshReservations();
    loadSeats();
  } catch (e) {
    showError($('booking-message'), e);
    $('booking-message').scrollIntoView({ block: 'nearest' });
    if (e instanceof ApiError && (e.code === 'TOKEN_EXPIRED' || e.code === 'TOKEN_INVALID')) queueOver(e);
    else loadSeats();
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- hold and payment

function showHold(reservation) {
  state.hold = reservation;
  save('hold', reservation);
  $('hold-section').hidden = false;
  $('hold-text').textContent = `Seat ${reservation.seatNumber} · ${won(reservation.price)} · reservation #${reservation.reservationId}`;
  $('pay-button').textContent = `Pay ${won(reservation.price)}`;
  $('pay-button').hidden = false;
  show($('pay-message'));
  tick();
  $('hold-section').scrollIntoView({ block: 'nearest' });
}

function clearHold() {
  state.hold = null;
  state.payment = null;
  save('hold', null);
  $('hold-section').hidden = true;
}

/**
 * One payment attempt = one Idempotency-Key. A second click while it runs does nothing; a retry after a lost
 * answer, a busy service or "still processing" reuses the key, so the service replays instead of paying twice.
 * A clear refusal (too low a balance, expired hold) ends the attempt: the next press is a new attempt.
 */
async function pay() {
  if (state.paying || !state.hold) return;
  const reservation = state.hold;
  if (!state.payment || state.payment.reservationId !== reservation.reservationId) {
    state.payment = { key: uuid(), reservationId: reservation.reservationId };
  }
  state.paying = true;
  const button = $('pay-button');
  button.disabled = true;
  show($('pay-message'), 'info', 'Paying…');
  try {
    const paid = await call('POST', '/payments/pay', {
      headers: queueHeaders({ 'Idempotency-Key': state.payment.key }),
      body: { reservationId: reservation.reservationId, userId: Number(state.auth.userId) },
    });
    clearHold();
    stopSeatRefresh();
    state.queue = null;
    save('queue', null);
    $('booking-section').hidden = true;
    setBalance(paid.balance);
    show($('reservations-message'), 'ok',
      `Paid ${won(paid.amount)} for seat ${reservation.seatNumber}. It is yours! Your balance is now ${won(paid.balance)}.`);
    refreshReservations();
    loadConcerts();
  } catch (e) {
    const sameAttempt = e instanceof ApiError
      && (e.status === 0 || e.status >= 500 || e.code === 'IDEMPOTENCY_IN_PROGRESS');
    if (!sameAttempt) state.payment = null;
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') signOut(e);
    showError($('pay-message'), e);
    if (e instanceof ApiError && (e.code === 'HOLD_EXPIRED' || e.code === 'RESERVATION_NOT_PAYABLE')) {
      $('pay-button').hidden = true;
      refreshReservations();
      loadSeats();
    }
    if (e instanceof ApiError && e.code === 'TOKEN_EXPIRED') queueOver(e);
  } finally {
    state.paying = false;
    button.disabled = false;
  }
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
    $('admitted').textContent = left > 0
      ? `You're in! You have ${clock(left)} to choose and pay.`
      : 'Your booking time is over; the service will tell you if it has ended.';
  }
  if (state.hold && !$('hold-section').hidden) {
    const left = (Date.parse(state.hold.heldUntil) - serverNow()) / 1000;
    $('hold-countdown').textContent = left > 0 ? clock(left) : '0:00 (the hold has run out)';
    $('hold-section').classList.toggle('urgent', left > 0 && left <= 60);
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
    showError($('wallet-message'), e);
  }
}

async function topUp(event) {
  event.preventDefault();
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
    showError($('wallet-message'), e);
  } finally {
    button.disabled = false;
  }
}

const STATUS_WORDS = { HELD: 'Held', PAID: 'Paid', CANCELLED: 'Cancelled', EXPIRED: 'Expired' };

async function refreshReservations() {
  try {
    const list = await userCall('GET', `/reservations/${state.auth.userId}`);
    const items = list.map(reservationItem);
    $('reservations').replaceChildren(...items);
    if (items.length === 0) $('reservations').replaceChildren(el('li', { class: 'muted' }, 'No reservations yet.'));
  } catch (e) {
    showError($('reservations-message'), e);
  }
}

function reservationItem(r) {
  const message = el('p', { role: 'alert', hidden: true });
  const cancellable = r.status === 'HELD' || r.status === 'PAID';
  const cancel = cancellable ? el('button', { type: 'button', class: 'secondary small' }, r.status === 'PAID' ? 'Cancel and refund' : 'Cancel') : null;
  if (cancel) cancel.addEventListener('click', () => confirmCancel(r, cancel, message));
  return el('li', { class: 'reservation', dataset: { reservation: r.reservationId, status: r.status } },
    el('div', {},
      el('strong', {}, `Seat ${r.seatNumber}`), ` · ${won(r.price)} · `,
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
    yes.disabled = true;
    try {
      const result = await userCall('DELETE', `/reservations/${r.reservationId}?userId=${state.auth.userId}`);
      if (state.hold && state.hold.reservationId === r.reservationId) clearHold();
      show($('reservations-message'), 'ok', result.refunded
        ? `Cancelled seat ${r.seatNumber}; ${won(result.refunded)} went back to your balance.`
        : `Cancelled seat ${r.seatNumber}; it is free for others again.`);
      refreshReservations();
      refreshBalance();
      loadConcerts();
      if (state.queue) loadSeats();
    } catch (e) {
      ask.replaceWith(button);
      showError(message, e);
    }
  });
}

// ---------------------------------------------------------------- start

function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut(null));
  $('all-concerts').addEventListener('click', () => { history.pushState(null, '', '/'); loadConcerts(); });
  window.addEventListener('hashchange', () => { if (state.auth) loadConcerts(); });
  window.addEventListener('popstate', () => { if (state.auth) loadConcerts(); });
  $('concerts-prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadConcerts(); });
  $('concerts-next').addEventListener('click', () => { state.page += 1; loadConcerts(); });
  $('leave-queue').addEventListener('click', leaveQueue);
  $('date-select').addEventListener('change', (e) => {
    state.dateId = e.target.value;
    state.selected = null;
    state.seats = [];
    $('seat-map').replaceChildren();
    delete $('seat-map').dataset.layout;
    renderSelection();
    loadSeats();
  });
  $('hold-button').addEventListener('click', holdSeat);
  $('pay-button').addEventListener('click', pay);
  $('top-up-form').addEventListener('submit', topUp);
  state.ticker = setInterval(tick, 250);
  const auth = load('auth');
  if (auth && auth.expiresAt > Date.now() + 5000) {
    state.auth = auth;
    enterApp();
  } else {
    signOut(null);
  }
}

start();
