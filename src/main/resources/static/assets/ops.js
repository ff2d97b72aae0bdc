// The operator page: watch one concert's queue live (short polling of the admin API: EventSource cannot send
// the admin credential), pause, resume, change the policy, admit now, post a message to the fans, look a fan up by
// queue ID, see and move a scheduled sale with its draw's commitment, and create concerts.
import { ApiError, call, duration, el, number, show, when } from './api.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const HISTORY = 120; // samples: two minutes at one per second
const PAGE_SIZE = 15;

const state = {
  credential: null, // {kind: 'key'|'token', value}
  page: 0,
  concerts: new Map(),
  concertId: null,
  view: null,
  history: [],
  timer: null,
  generation: 0,
  policyDirty: false,
  pollFailed: false,
  sale: null,
  polls: 0,
};

function adminHeaders() {
  return state.credential.kind === 'token'
    ? { Authorization: `Bearer ${state.credential.value}` }
    : { 'X-Admin-Key': state.credential.value };
}

/** Operators read the service's own words, with the code beneath them for the runbook. */
function showProblem(element, error) {
  if (error instanceof ApiError) {
    const words = error.status === 0 ? 'The service could not be reached.' : error.detail || error.title || `HTTP ${error.status}`;
    say(element, 'error', words, error.code ? `${error.code} (HTTP ${error.status})` : null);
  } else {
    say(element, 'error', 'Something went wrong in the page.', String(error));
  }
}

/**
 * An answer to the operator stays until they dismiss it (or the next action's answer replaces it): the live
 * figures refresh every second, the words about what the operator did do not go away with them.
 */
function say(element, kind, text, detail) {
  show(element, kind, text, detail);
  if (!text) return;
  const close = el('button', { type: 'button', class: 'link dismiss', 'aria-label': 'Dismiss this message' }, 'Dismiss');
  close.addEventListener('click', () => {
    show(element);
    const next = element.closest('section') && element.closest('section').querySelector('h2');
    if (next) { next.tabIndex = -1; next.focus(); }
  });
  element.append(close);
  if (element.offsetParent) element.scrollIntoView({ block: 'nearest' });
}

async function admin(method, path, body) {
  try {
    return await call(method, path, { body, headers: adminHeaders() });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signOut(e);
    throw e;
  }
}

// ---------------------------------------------------------------- sign-in

async function signIn(event) {
  event.preventDefault();
  const kind = document.querySelector('input[name=kind]:checked').value;
  state.credential = { kind, value: $('credential').value.trim() };
  show($('sign-in-message'));
  $('sign-in-button').disabled = true;
  try {
    // Any admin read proves the credential; notifications of a user id nobody has is the cheapest one.
    await call('GET', '/admin/notifications?userId=1', { headers: adminHeaders() });
    sessionStorage.setItem('ops-credential', JSON.stringify(state.credential));
    $('credential').value = '';
    enter();
  } catch (e) {
    state.credential = null;
    showProblem($('sign-in-message'), e);
  } finally {
    $('sign-in-button').disabled = false;
  }
}

function signOut(reason) {
  stopPolling();
  state.credential = null;
  sessionStorage.removeItem('ops-credential');
  $('app-view').hidden = true;
  $('account').hidden = true;
  $('sign-in-view').hidden = false;
  if (reason) showProblem($('sign-in-message'), reason);
  $('credential').focus();
}

function enter() {
  $('sign-in-view').hidden = true;
  $('app-view').hidden = false;
  $('account').hidden = false;
  $('who').textContent = state.credential.kind === 'token' ? 'Signed in with an admin token' : 'Signed in with the admin key';
  loadConcerts();
  const fromHash = /^#concert-(\d+)$/.exec(location.hash);
  if (fromHash) watch(Number(fromHash[1]));
  if ($('create-dates').children.length === 0) addDate();
}

// ---------------------------------------------------------------- concerts

async function loadConcerts() {
  show($('concerts-message'));
  try {
    const page = await call('GET', `/concerts?page=${state.page}&size=${PAGE_SIZE}`);
    page.content.forEach((c) => state.concerts.set(c.concertId, c));
    $('concerts').replaceChildren(...page.content.map((c) => {
      const button = el('button', { type: 'button', class: 'secondary small', dataset: { watch: c.concertId } }, 'Watch');
      button.addEventListener('click', () => watch(c.concertId));
      return el('tr', { dataset: { concert: c.concertId }, class: c.concertId === state.concertId ? 'watching' : null },
        el('td', {}, String(c.concertId)), el('td', {}, c.name), el('td', {}, button));
    }));
    $('concerts-page').textContent = `Page ${page.page + 1} of ${Math.max(1, page.totalPages)}`;
    $('concerts-prev').disabled = page.page === 0;
    $('concerts-next').disabled = page.page + 1 >= page.totalPages;
  } catch (e) {
    showProblem($('concerts-message'), e);
  }
}

// ---------------------------------------------------------------- live queue

function watch(concertId) {
  stopPolling();
  state.concertId = concertId;
  state.view = null;
  state.history = [];
  state.policyDirty = false;
  state.sale = null;
  state.polls = 0;
  $('lookup-result').textContent = '';
  history.replaceState(null, '', `#concert-${concertId}`);
  document.querySelectorAll('#concerts tr').forEach((tr) => tr.classList.toggle('watching', Number(tr.dataset.concert) === concertId));
  const concert = state.concerts.get(concertId);
  $('queue-title').textContent = concert ? `Queue of #${concertId} ${concert.name}` : `Queue of concert #${concertId}`;
  show($('queue-message'));
  const generation = ++state.generation;
  const loop = async () => {
    await poll(generation);
    if (generation === state.generation) state.timer = setTimeout(loop, POLL_MS);
  };
  loop();
}

function stopPolling() {
  state.generation++;
  clearTimeout(state.timer);
}

async function poll(generation) {
  try {
    const view = await admin('GET', `/admin/queues/${state.concertId}`);
    if (generation !== state.generation) return;
    render(view);
    // The sale's record changes at two moments (draw, opening): every few seconds until the seed is out.
    if (state.polls++ % 5 === 0 && !(state.sale && state.sale.seed)) {
      const sale = await call('GET', `/concerts/${state.concertId}/sale`);
      if (generation === state.generation) renderSale(sale);
    }
  } catch (e) {
    if (generation === state.generation) {
      showProblem($('poll-message'), e);
      state.pollFailed = true;
    }
  }
}

function seconds(value) {
  return value === null || value === undefined ? '–' : duration(value);
}

/**
 * The admit-per-tick Resume brings back: the rate the service reports for resuming when it does
 * (resumeAdmitPerTick), else the last rate this browser saw running, else the rate typed in Policy; never 0.
 */
function resumeRate() {
  if (state.view && state.view.resumeAdmitPerTick > 0) return state.view.resumeAdmitPerTick;
  const remembered = Number(localStorage.getItem(`ops-resume-${state.concertId}`));
  if (remembered > 0) return remembered;
  const typedRate = typed($('policy-per-tick'));
  return Number.isInteger(typedRate) && typedRate > 0 ? typedRate : null;
}

/** Why the badge says what it says, in a sentence an operator can act on. */
function stateReason(view, paused, capped) {
  if (view.soldOut) return 'No seat is free or held: waiting fans are told it is sold out and keep their places.';
  if (paused) return 'Admit per tick is 0: nobody is let in until you resume.';
  if (capped) {
    return `${number(view.active)} of ${number(view.maxActive)} admitted fans are booking, the active cap: the next in line are let in `
      + 'as these pay or their booking time runs out. Raise the active cap in Policy to let more in now.';
  }
  if (view.waiting === 0) return 'Nobody is waiting.';
  return `Letting in up to ${number(view.admitPerTick)} per tick.`;
}

function render(view) {
  state.view = view;
  // A poll clears only a poll's own failure; what the operator did stays said until the next action.
  if (state.pollFailed) {
    show($('poll-message'));
    state.pollFailed = false;
  }
  $('queue-live').hidden = false;
  const paused = view.admitPerTick === 0;
  if (!paused) localStorage.setItem(`ops-resume-${view.concertId}`, String(view.admitPerTick));
  const capped = !paused && (view.admission === 'CAP_FULL' || view.active >= view.maxActive);
  const badge = view.soldOut ? 'Sold out' : paused ? 'Paused' : capped ? 'Cap reached' : 'Admitting';
  $('queue-state').textContent = badge;
  $('queue-state').className = `badge ${badge === 'Admitting' ? 'running' : capped ? 'capped' : 'paused'}`;
  $('queue-reason').textContent = stateReason(view, paused, capped);
  $('stat-cohort').textContent = number(view.cohortWaiting || 0);
  $('message-now').textContent = view.message ? `“${view.message}”` : 'none';
  $('queue-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  $('stat-waiting').textContent = number(view.waiting);
  $('stat-active').textContent = `${number(view.active)} / ${number(view.maxActive)}`;
  $('stat-rate').textContent = `${number(Math.round(view.observedAdmissionsPerSecond * 10) / 10)} /s`;
  $('stat-per-tick').textContent = number(view.admitPerTick);
  $('stat-oldest').textContent = seconds(view.oldestWaitSeconds);
  const p = view.estimatedWaitSeconds || {};
  $('stat-p50').textContent = seconds(p.p50);
  $('stat-p90').textContent = seconds(p.p90);
  $('stat-p99').textContent = seconds(p.p99);
  $('stat-max').textContent = seconds(p.max);
  $('stat-streams').textContent = view.openStreams === undefined ? '–' : number(view.openStreams);
  $('stat-admitted').textContent = number(view.admittedTotal);
  $('pause').disabled = paused;
  $('resume').disabled = !paused;
  if (!state.policyDirty && document.activeElement !== $('policy-per-tick') && document.activeElement !== $('policy-cap')) {
    // Paused, the field offers the rate to resume with rather than the 0 in force.
    const rate = paused ? resumeRate() : view.admitPerTick;
    $('policy-per-tick').value = rate ?? '';
    $('policy-cap').value = view.maxActive;
  }
  const rate = resumeRate();
  $('resume-hint').textContent = paused
    ? (rate ? `Resume admits ${number(rate)} per tick again.` : 'Type the admit per tick to resume with in Policy, then press Resume.')
    : `Admitting ${number(view.admitPerTick)} per tick.`;
  state.history.push({ waiting: view.waiting, active: view.active });
  if (state.history.length > HISTORY) state.history.shift();
  spark();
}

function spark() {
  const top = Math.max(1, ...state.history.map((h) => Math.max(h.waiting, h.active)));
  const points = (field) => state.history
    .map((h, i) => `${(i * 120) / (HISTORY - 1)},${(40 - (h[field] / top) * 38 - 1).toFixed(2)}`).join(' ');
  $('spark').querySelector('.waiting').setAttribute('points', points('waiting'));
  $('spark').querySelector('.active').setAttribute('points', points('active'));
}

/** The input as typed: a number when it is one, else the text, so the service's validation answers. */
function typed(input) {
  const raw = input.value.trim().replace(/,/g, '');
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

async function setPolicy(admitPerTick, maxActive, what) {
  show($('queue-message'));
  try {
    render(await admin('PUT', `/admin/queues/${state.concertId}/policy`, { admitPerTick, maxActive }));
    state.policyDirty = false;
    say($('queue-message'), 'ok', what);
  } catch (e) {
    showProblem($('queue-message'), e);
  }
}

function pause() {
  if (!state.view) return;
  setPolicy(0, state.view.maxActive, 'Admission paused. Waiting fans keep their places.');
}

function resume() {
  if (!state.view) return;
  const rate = resumeRate();
  if (!rate) {
    say($('queue-message'), 'error', 'No rate to resume with is known here: type the admit per tick in Policy, then press Resume.');
    $('policy-per-tick').focus();
    return;
  }
  setPolicy(rate, state.view.maxActive, `Admission resumed at ${number(rate)} per tick.`);
}

function applyPolicy(event) {
  event.preventDefault();
  setPolicy(typed($('policy-per-tick')), typed($('policy-cap')), 'Policy applied.');
}

async function admitNow(event) {
  event.preventDefault();
  show($('queue-message'));
  try {
    const count = typed($('admit-count'));
    const result = await admin('POST', `/admin/queues/${state.concertId}/admit`, { count });
    const cap = state.view ? state.view.maxActive : null;
    const why = result.admitted >= count ? ''
      : result.waiting === 0 && result.admitted === 0 ? ' Nobody was waiting.'
        : cap !== null && result.active >= cap ? ` The active cap of ${number(cap)} is reached: raise it in Policy to let more in.`
          : result.waiting === 0 ? ' Everyone waiting is in.' : '';
    say($('queue-message'), result.admitted ? 'ok' : 'info',
      `Admitted ${number(result.admitted)} now (waiting ${number(result.waiting)}, active ${number(result.active)}).${why}`);
  } catch (e) {
    showProblem($('queue-message'), e);
  }
}

// ---------------------------------------------------------------- the sale, the message, support's look-up

const SALE_WORDS = { SCHEDULED: 'Scheduled (pre-queue not open yet)', PREQUEUE: 'Pre-queue open', OPEN: 'On sale' };

function renderSale(sale) {
  state.sale = sale;
  $('sale-state').textContent = SALE_WORDS[sale.state] || sale.state;
  $('sale-prequeue').textContent = sale.prequeueOpensAt ? when(sale.prequeueOpensAt) : 'no schedule';
  $('sale-opens').textContent = sale.opensAt ? when(sale.opensAt) : 'on sale since created';
  $('sale-cohort').textContent = sale.cohortSize === undefined ? (sale.state === 'OPEN' ? '–' : 'drawn at the opening') : number(sale.cohortSize);
  $('sale-commitment').textContent = sale.commitment || (sale.opensAt ? 'published when the pre-queue opens' : '–');
  $('sale-seed').textContent = sale.seed || (sale.opensAt ? 'secret until the opening' : '–');
  $('sale-form').hidden = !sale.opensAt || sale.state === 'OPEN';
}

/** A datetime-local value as an ISO instant (the browser's time zone), or null when empty. */
function instant(input) {
  return input.value ? new Date(input.value).toISOString() : null;
}

async function moveSale(event) {
  event.preventDefault();
  show($('queue-message'));
  const body = { opensAt: instant($('sale-form-opens')) };
  if ($('sale-form-prequeue').value) body.prequeueOpensAt = instant($('sale-form-prequeue'));
  try {
    renderSale(await admin('PUT', `/admin/concerts/${state.concertId}/sale`, body));
    say($('queue-message'), 'ok', 'The sale was moved.');
  } catch (e) {
    showProblem($('queue-message'), e);
  }
}

async function postMessage(text) {
  show($('queue-message'));
  try {
    const result = await admin('PUT', `/admin/queues/${state.concertId}/message`, { text });
    $('message-now').textContent = result.message ? `“${result.message}”` : 'none';
    if (!text) $('message-text').value = '';
    say($('queue-message'), 'ok', text ? 'Message posted: the waiting fans see it now.' : 'Message cleared.');
  } catch (e) {
    showProblem($('queue-message'), e);
  }
}

async function lookUp(event) {
  event.preventDefault();
  const id = $('lookup-id').value.trim();
  $('lookup-result').textContent = '';
  try {
    const entry = await admin('GET', `/admin/queues/${state.concertId}/entries/${encodeURIComponent(id)}`);
    const where = entry.state === 'WAITING' ? `waiting at position ${number(entry.position)}`
      : entry.state === 'ACTIVE' ? `admitted, booking until ${new Date(entry.activeUntil).toLocaleTimeString()}`
        : 'in the pre-queue (the draw at the opening sets the place)';
    $('lookup-result').textContent = `${entry.queueId}: user #${entry.userId}, ${where}; joined ${when(entry.joinedAt)}`
      + (entry.lastSeenAt ? `, last seen ${new Date(entry.lastSeenAt).toLocaleTimeString()}` : '') + '.';
  } catch (e) {
    showProblem($('lookup-result'), e);
  }
}

// ---------------------------------------------------------------- create a concert

function field(labelText, input) {
  const id = `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return [el('label', { for: id }, labelText), input];
}

function addBlock(container, grade = '', price = '', count = '') {
  const remove = el('button', { type: 'button', class: 'secondary small', 'aria-label': 'Remove this seat block' }, 'Remove');
  const block = el('div', { class: 'block' },
    el('div', {}, ...field('Grade', el('input', { class: 'grade', value: grade, autocomplete: 'off' }))),
    el('div', {}, ...field('Price (won)', el('input', { class: 'price', value: price, inputmode: 'numeric', autocomplete: 'off' }))),
    el('div', {}, ...field('Seats', el('input', { class: 'count', value: count, inputmode: 'numeric', autocomplete: 'off' }))),
    remove);
  remove.addEventListener('click', () => block.remove());
  container.append(block);
}

function addDate() {
  const blocks = el('div', { class: 'blocks' });
  const addBlockButton = el('button', { type: 'button', class: 'secondary small' }, 'Add a seat block');
  const removeDate = el('button', { type: 'button', class: 'secondary small' }, 'Remove this date');
  const index = $('create-dates').children.length + 1;
  const date = el('fieldset', { class: 'date' },
    el('legend', {}, `Date ${index}`),
    ...field('Starts at (your local time)', el('input', { class: 'starts', type: 'datetime-local' })),
    ...field('Venue', el('input', { class: 'venue', autocomplete: 'off' })),
    blocks,
    el('div', { class: 'row' }, addBlockButton, removeDate));
  addBlockButton.addEventListener('click', () => addBlock(blocks));
  removeDate.addEventListener('click', () => date.remove());
  addBlock(blocks, 'VIP', '150000', '50');
  addBlock(blocks, 'R', '100000', '150');
  $('create-dates').append(date);
}

async function createConcert(event) {
  event.preventDefault();
  const button = $('create-button');
  button.disabled = true;
  show($('create-message'));
  const dates = [...$('create-dates').querySelectorAll('fieldset.date')].map((d) => {
    const local = d.querySelector('.starts').value;
    return {
      startsAt: local ? new Date(local).toISOString() : null,
      venue: d.querySelector('.venue').value,
      seats: [...d.querySelectorAll('.block')].map((b) => ({
        grade: b.querySelector('.grade').value,
        price: typed(b.querySelector('.price')),
        count: typed(b.querySelector('.count')),
      })),
    };
  });
  try {
    const request = { name: $('create-name').value, description: $('create-description').value, dates };
    if ($('create-opens').value) {
      request.sale = { opensAt: instant($('create-opens')) };
      if ($('create-prequeue').value) request.sale.prequeueOpensAt = instant($('create-prequeue'));
    }
    if ($('create-max-tickets').value.trim()) request.maxTicketsPerUser = typed($('create-max-tickets'));
    const created = await admin('POST', '/admin/concerts', request);
    say($('create-message'), 'ok', `Created concert #${created.concertId} "${created.name}" with ${created.dates.length} date(s): `
      + created.dates.map((d) => `#${d.concertDateId} (${number(d.totalSeats)} seats)`).join(', ') + '.');
    state.concerts.set(created.concertId, { concertId: created.concertId, name: created.name });
    await loadConcerts();
    watch(created.concertId);
  } catch (e) {
    showProblem($('create-message'), e);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- start

function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut(null));
  $('concerts-prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); loadConcerts(); });
  $('concerts-next').addEventListener('click', () => { state.page += 1; loadConcerts(); });
  $('pause').addEventListener('click', pause);
  $('resume').addEventListener('click', resume);
  $('policy-form').addEventListener('submit', applyPolicy);
  $('policy-per-tick').addEventListener('input', () => { state.policyDirty = true; });
  $('policy-cap').addEventListener('input', () => { state.policyDirty = true; });
  $('admit-form').addEventListener('submit', admitNow);
  $('sale-form').addEventListener('submit', moveSale);
  $('message-form').addEventListener('submit', (e) => { e.preventDefault(); postMessage($('message-text').value); });
  $('message-clear').addEventListener('click', () => postMessage(null));
  $('lookup-form').addEventListener('submit', lookUp);
  $('add-date').addEventListener('click', addDate);
  $('create-form').addEventListener('submit', createConcert);
  try { state.credential = JSON.parse(sessionStorage.getItem('ops-credential')); } catch { state.credential = null; }
  if (state.credential) enter();
  else $('credential').focus();
}

start();
