// The operator page /backoffice/rest-sources.
//
// Talks only to the JSON endpoints under /api/backoffice/ (same origin,
// basic auth cached by the browser).  Everything that came from an
// operator or an upstream (titles, URLs, cursors, errors) is put into the
// page with textContent or setAttribute on inert attributes: never as
// HTML.  No inline script or style (the CSP is default-src 'self').

const API = '/api/backoffice/';
const RETRY_409_MS = 1500;      // Sync to end: wait before retrying a busy source
const RETRY_409_MAX = 80;       // ... at most this many times in a row
const RUN_POLL_MS = 700;        // Sync to end: how often the run's progress is read
const AUTO_REFRESH_MS = 20000;
const HISTORY_STEP = 10;        // audit entries shown per source, and per "Show more"
const HISTORY_MAX = 200;        // the endpoint's cap (SRC_AUDIT_MAX)

const state = {
  sources: new Map(),   // id -> source object from GET rest-sources
  order: [],            // ids in list order
  tenants: [],
  busy: new Map(),      // id -> { kind: 'sync' | 'all' | 'reset' | 'delete', stop, batches, waiting }
  editing: null,        // the source being edited, null when adding
  history: new Map(),   // id -> { open, entries, loading, error, seq } (the audit trail)
  loaded: false,
  auditId: null,        // the source of the audit page (?audit=<id>), else null
};

const $ = (sel) => document.querySelector(sel);

// ---- small DOM helpers (text only) -----------------------------------

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k === 'disabled' || k === 'hidden' || k === 'open') el[k] = Boolean(v);
    else if (k === 'value' || k === 'max') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const fmt = new Intl.NumberFormat();
const n = (v) => fmt.format(v ?? 0);
const plural = (k, one, many) => `${n(k)} ${k === 1 ? one : many}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function relTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.round(m / 60);
  if (hr < 48) return `${hr} h ago`;
  return `${Math.round(hr / 24)} days ago`;
}

function exactTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, {
    dateStyle: 'medium', timeStyle: 'medium',
  }) + ` (${iso})`;
}

// ---- API --------------------------------------------------------------

async function api(name, body) {
  const opt = { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opt.method = 'POST';
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + name, opt);
  } catch (e) {
    return { status: 0, ok: false, json: { ok: false, error: `Network error: ${e.message}` } };
  }
  let json;
  try {
    json = await res.json();
  } catch {
    json = { ok: false, error: `HTTP ${res.status} ${res.statusText} (no JSON answer)` };
  }
  if (!json || typeof json !== 'object') json = { ok: false, error: `HTTP ${res.status}` };
  return { status: res.status, ok: res.ok && json.ok === true, json };
}

// ---- toasts -----------------------------------------------------------

const TOASTS_MAX = 2;   // on screen at once: the newest

// A toast says what happened; it takes no click but on its close button
// (and an optional link), so it never stands between the operator and a
// row's controls.  link: { href, text }.
function toast(kind, title, detail, link) {
  const box = $('#toasts');
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('div', { class: 'toast-text' },
      h('p', { class: 'toast-title', text: title }),
      detail ? h('p', { class: 'toast-detail', text: detail }) : null,
      link ? h('p', { class: 'toast-link' }, h('a', { href: link.href, text: link.text })) : null),
    close);
  const remove = () => t.remove();
  close.addEventListener('click', remove);
  box.append(t);
  while (box.children.length > TOASTS_MAX) box.firstElementChild.remove();
  setTimeout(remove, kind === 'error' ? 12000 : 6000);
  return t;
}

// ---- list ------------------------------------------------------------

async function refresh({ quiet = false } = {}) {
  const r = await api('rest-sources');
  const errBox = $('#load-error');
  if (!r.ok) {
    errBox.textContent = `Could not load the sources: ${r.json.error}`;
    errBox.hidden = false;
    if (!quiet) toast('error', 'Could not load the sources', r.json.error);
    return false;
  }
  errBox.hidden = true;
  state.sources = new Map(r.json.sources.map((s) => [s.id, s]));
  state.order = r.json.sources.map((s) => s.id);
  state.loaded = true;
  renderAll();
  followRunning();
  if (state.auditId) renderAuditView();
  return true;
}

function renderSummary(shown = null) {
  const all = [...state.sources.values()];
  const items = all.reduce((a, s) => a + (s.itemCount || 0), 0);
  const chunks = all.reduce((a, s) => a + (s.chunks || 0), 0);
  const errors = all.filter((s) => s.lastStatus === 'error').length;
  const done = all.filter((s) => s.done).length;
  const parts = [plural(all.length, 'source', 'sources'), `${n(items)} items`, `${n(chunks)} chunks`];
  if (done) parts.push(`${n(done)} complete`);
  if (errors) parts.push(plural(errors, 'with an error', 'with errors'));
  if (shown !== null) parts.push(`${n(shown)} shown`);
  $('#summary').textContent = parts.join(' · ');
}

function renderAll() {
  const body = $('#rows');
  const seen = new Set();
  let prev = null;
  for (const id of state.order) {
    seen.add(id);
    let tr = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (!tr) tr = h('tr', { data: { id } });
    renderRow(tr, state.sources.get(id));
    const want = prev ? prev.nextElementSibling : body.firstElementChild;
    if (want !== tr) body.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of [...body.children]) if (!seen.has(tr.dataset.id)) tr.remove();
  $('#empty').hidden = !(state.loaded && state.order.length === 0);
  applyFilter();
}

function matches(s, q) {
  if (!q) return true;
  const hay = [s.title, s.tenantName, s.id, s.summary ? s.summary.baseUrl : ''].join('\n').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

// Hide the rows that do not match the filter box; say how many are shown.
function applyFilter() {
  const q = $('#filter').value.trim().toLowerCase();
  let shown = 0;
  for (const tr of $('#rows').children) {
    const s = state.sources.get(tr.dataset.id);
    tr.hidden = !(s && matches(s, q));
    if (!tr.hidden) shown += 1;
  }
  const none = state.order.length > 0 && shown === 0;
  const msg = $('#no-match');
  msg.hidden = !none;
  msg.textContent = none ? `No source matches “${$('#filter').value.trim()}”.` : '';
  $('#sources').classList.toggle('is-empty', shown === 0);
  renderSummary(q ? shown : null);
}

function statusOf(s, busy) {
  if (busy && ['sync', 'all', 'again'].includes(busy.kind)) return ['running', 'syncing'];
  if (s.done) return ['done', 'done'];
  // Its rateLimit budget has no room yet (ratelimit.h): a run waits.
  if (s.rateWaitUntil && Date.parse(s.rateWaitUntil) > Date.now()) return ['other', 'waiting for budget'];
  if (s.lastStatus === 'error') return ['error', 'error'];
  if (s.lastStatus === 'ok') return ['ok', 'ok'];
  if (s.lastStatus) return ['other', s.lastStatus];
  // Reset keeps lastSyncedAt: the source has synced, and starts over.
  if (s.lastSyncedAt) return ['never', 'starts over'];
  return ['never', 'never synced'];
}

function cell(label, cls, ...children) {
  return h('td', { class: cls, data: { label } }, ...children);
}

function sourceCell(s) {
  const sum = s.summary;
  const meta = [];
  if (sum) {
    meta.push(`${sum.cursorStyle} · ${n(sum.pageSize)} per page`);
    if (sum.requiresAuth) meta.push(s.hasSecret ? `key set (${sum.provider})` : `no key for ${sum.provider}`);
  }
  return cell('Source', 'c-source',
    h('div', { class: 'tenant', text: s.tenantName }),
    h('div', { class: 'title-line' },
      h('span', { class: 'title', text: s.title }),
      s.enabled ? null : h('span', { class: 'tag tag-muted', text: 'disabled' })),
    sum
      ? h('div', { class: 'url mono', title: sum.baseUrl, text: sum.baseUrl })
      : h('div', { class: 'config-error', text: `Invalid config: ${s.configError}` }),
    meta.length ? h('div', { class: 'meta', title: meta.join(' · '), text: meta.join(' · ') }) : null,
    historyBlock(s));
}

// ---- history (the audit trail of a source) ----------------------------

const ACTION_LABELS = {
  sync: 'Sync', 'sync-to-end': 'Sync to end', worker: 'Worker', create: 'Created',
  update: 'Edited', reset: 'Reset', delete: 'Deleted', sweep: 'Sweep confirmed',
  run: 'Run page', 'run-start': 'Sync to end started', 'run-stop': 'Stop asked',
};

// What a run changed: "+12 new · 3 changed · 2 removed · 180 unchanged".
function runSummary(r) {
  if (!r) return '';
  const bits = [`+${n(r.newItems)} new`, `${n(r.changedItems)} changed`, `${n(r.removedItems)} removed`, `${n(r.unchangedItems)} unchanged`];
  return bits.join(' · ');
}

const RUN_STATUS = { running: 'running', done: 'done', failed: 'failed', stopped: 'stopped' };

// An incremental source's run: "incremental since <since>" or "full"
// (config incremental; null for other sources).
function runMode(r) {
  if (r.incremental === null || r.incremental === undefined) return '';
  const mark = r.mark ? `, mark ${r.mark}` : '';
  return r.incremental ? ` · incremental since ${r.since}${mark}` : ` · full${r.since ? ` since ${r.since}` : ''}${mark}`;
}

function runEntry(r) {
  const cls = r.status === 'failed' ? 'error' : r.status === 'done' ? 'done' : 'other';
  const lines = [`${runSummary(r)} · ${plural(r.pages, 'page', 'pages')}${runMode(r)}`];
  if (r.sweep) lines.push(`sweep ${r.sweep}${r.sweepNote ? `: ${r.sweepNote}` : ''}`);
  if (r.error) lines.push(r.error);
  return h('li', { class: `run-entry run-${cls}`, data: { kind: 'run' } },
    h('div', { class: 'history-line' },
      h('time', { class: 'rel', datetime: r.startedAt, title: exactTime(r.startedAt), text: relTime(r.startedAt) }),
      h('span', { class: 'history-actor', text: r.actor }),
      h('span', { class: 'history-action', text: `Run (${ACTION_LABELS[r.kind] || r.kind})` }),
      h('span', { class: `history-outcome badge badge-${cls}`, text: RUN_STATUS[r.status] || r.status })),
    ...lines.map((t, i) => h('div', { class: i === 2 || (i === 1 && !r.sweep) ? 'history-text history-error' : 'history-text', text: t })));
}

function historyOf(id) {
  let hs = state.history.get(id);
  if (!hs) {
    hs = { open: false, entries: null, loading: false, error: null, seq: 0, limit: HISTORY_STEP };
    state.history.set(id, hs);
  }
  return hs;
}

// A JSON value in one short line (config diffs).
function brief(v) {
  if (v === undefined) return '(absent)';
  const t = JSON.stringify(v);
  return t.length > 60 ? `${t.slice(0, 59)}…` : t;
}

// An edit as recorded: before → after of what really changed.  Entries
// written before the diff was recorded only name the fields.
function updateText(d) {
  const bits = [];
  if (d.title && typeof d.title === 'object') bits.push(`title “${d.title.from}” → “${d.title.to}”`);
  if (d.enabled && typeof d.enabled === 'object') bits.push(d.enabled.to ? 'enabled' : 'disabled');
  if (d.config && typeof d.config === 'object') {
    for (const [k, c] of Object.entries(d.config)) {
      if (!('from' in c)) bits.push(`${k} added: ${brief(c.to)}`);
      else if (!('to' in c)) bits.push(`${k} removed (was ${brief(c.from)})`);
      else bits.push(`${k} ${brief(c.from)} → ${brief(c.to)}`);
    }
  }
  if (Array.isArray(d.changed) && d.changed.includes('apiKey')) bits.push('API key replaced');
  if (bits.length) return bits.join(' · ');
  return Array.isArray(d.changed) && d.changed.length ? `changed ${d.changed.join(', ')}` : 'saved, nothing changed';
}

// A batch: "5 items (3 new, 2 changed) → 33 chunks: 21 new, 12 already
// stored · HTTP 200" (items are the API's records, chunks what they were
// cut into).
function batchText(d) {
  if (d.notModified) return 'page not modified (HTTP 304)';
  const itemBits = [[d.newItems, 'new'], [d.changedItems, 'changed'], [d.unchangedItems, 'unchanged'], [d.removedItems, 'removed']]
    .filter(([k]) => k > 0).map(([k, w]) => `${n(k)} ${w}`);
  const chunks = (d.inserted || 0) + (d.skipped || 0);
  let line = plural(d.items || 0, 'item', 'items');
  if (itemBits.length) line += ` (${itemBits.join(', ')})`;
  line += ` → ${plural(chunks, 'chunk', 'chunks')}`;
  if (chunks) line += `: ${n(d.inserted)} new${d.skipped ? `, ${n(d.skipped)} already stored` : ''}`;
  const bits = [line];
  if (d.status) bits.push(`HTTP ${d.status}`);
  return bits.join(' · ');
}

// What an entry did, in one line of text.
function historyText(e) {
  const d = e.detail && typeof e.detail === 'object' ? e.detail : {};
  if (e.outcome === 'error') return d.error ? String(d.error) : 'failed';
  switch (e.action) {
  case 'create':
    return `created “${d.title ?? ''}”${d.keyStored ? ' · API key stored' : ''}${d.enabled === false ? ' · disabled' : ''}`;
  case 'update':
    return updateText(d);
  case 'reset':
    return d.before ? `started over (was at ${plural(d.before.pageCount, 'page', 'pages')}, ${plural(d.before.itemCount, 'item', 'items')})`
      : 'started over (never synced)';
  case 'delete':
    return `removed ${plural(d.docs, 'doc', 'docs')} and ${plural(d.chunks, 'chunk', 'chunks')}`;
  case 'run-start':
    return `started a run${d.fromFirstPage ? ' from the first page' : ''} on the server`;
  case 'run-stop':
    return d.stoppedAtOnce ? 'stopped the run at once (no worker had it)' : 'asked the run to stop after the page in flight';
  case 'sweep':
    return `removed ${plural(d.removedItems, 'item', 'items')} and ${plural(d.chunksDeleted, 'chunk', 'chunks')} no longer upstream`;
  default:
    return batchText(d);
  }
}

// Where a failed batch failed: the (redacted) URL, the HTTP status.
function whereText(e) {
  const d = e.detail && typeof e.detail === 'object' ? e.detail : {};
  if (e.outcome !== 'error' || (!d.url && !d.status)) return null;
  return [d.url, d.status ? `HTTP ${d.status}` : null].filter(Boolean).join(' · ');
}

function historyEntry(e) {
  const outcome = ['ok', 'done', 'error'].includes(e.outcome) ? e.outcome : 'other';
  return h('li', { class: `history-entry history-${outcome}`, data: { kind: String(e.action) } },
    h('div', { class: 'history-line' },
      h('time', { class: 'rel', datetime: e.at, title: exactTime(e.at), text: relTime(e.at) }),
      h('span', { class: 'history-actor', text: e.actor }),
      h('span', { class: 'history-action', text: ACTION_LABELS[e.action] || e.action }),
      h('span', { class: `history-outcome badge badge-${outcome}`, text: e.outcome })),
    h('div', { class: e.outcome === 'error' ? 'history-text history-error' : 'history-text', text: historyText(e) }),
    whereText(e) ? h('div', { class: 'history-where mono', text: whereText(e) }) : null);
}

function historyBody(id) {
  const hs = historyOf(id);
  if (hs.error) return [h('p', { class: 'history-msg history-error', text: `Could not load the history: ${hs.error}` })];
  if (!hs.entries) return [h('p', { class: 'history-msg muted', text: 'Loading…' })];
  const out = [];
  if (hs.runs && hs.runs.length) {
    out.push(h('h4', { class: 'history-head', text: 'Runs' }),
      h('ol', { class: 'history-list history-runs', 'aria-label': 'Last runs, newest first' }, hs.runs.map(runEntry)),
      h('h4', { class: 'history-head', text: 'Actions' }));
  }
  if (!hs.entries.length) return [...out, h('p', { class: 'history-msg muted', text: 'Nothing recorded yet.' })];
  out.push(h('ol', { class: 'history-list', 'aria-label': 'Last actions, newest first' }, hs.entries.map(historyEntry)));
  if (hs.entries.length >= hs.limit && hs.limit < HISTORY_MAX) {
    out.push(h('button', {
      type: 'button', class: 'btn btn-small history-more', disabled: hs.loading,
      on: { click: () => { hs.limit = Math.min(HISTORY_MAX, hs.limit + HISTORY_STEP); loadHistory(id); } },
    }, hs.loading ? 'Loading…' : `Show ${n(HISTORY_STEP)} more`));
  } else if (hs.entries.length >= HISTORY_MAX) {
    out.push(h('p', { class: 'history-msg muted', text: `The last ${n(HISTORY_MAX)} entries are shown.` }));
  }
  return out;
}

function historyBlock(s) {
  const hs = historyOf(s.id);
  const d = h('details', { class: 'history', open: hs.open },
    h('summary', { text: 'History' }),
    h('div', { class: 'history-body', 'aria-live': 'polite' }, historyBody(s.id)));
  d.addEventListener('toggle', () => {
    hs.open = d.open;
    if (d.open && !hs.entries && !hs.loading) loadHistory(s.id);
  });
  return d;
}

function renderHistory(id) {
  if (state.auditId === id) {
    renderAuditView();
    return;
  }
  const body = $('#rows').querySelector(`tr[data-id="${CSS.escape(id)}"] details.history .history-body`);
  if (body) body.replaceChildren(...historyBody(id));
}

// The audit page of one source (rest-sources?audit=<id>): its history,
// also after the source was deleted.
function renderAuditView() {
  const id = state.auditId;
  const hs = historyOf(id);
  const live = state.sources.get(id);
  const named = (hs.entries || []).find((e) => e.detail && typeof e.detail.title === 'string');
  const title = live ? live.title : named ? named.detail.title : null;
  const deleted = (hs.entries || []).some((e) => e.action === 'delete' && e.outcome === 'ok');
  $('#audit-title').textContent = title ? `History of “${title}”` : 'History of a source';
  $('#audit-sub').textContent = `Source ${id}${deleted ? ' · deleted' : ''}`;
  $('#audit-body').replaceChildren(...historyBody(id));
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function openAuditView(id) {
  state.auditId = id;
  $('#audit-view').hidden = false;
  $('#table-wrap').hidden = true;
  $('.page-actions').hidden = true;
  const hs = historyOf(id);
  hs.open = true;
  renderAuditView();
  loadHistory(id);
}

// The deleted sources of every tenant (rest-sources?deleted), from the
// audit trail's delete rows (GET rest-audit?tenantId), each a link to its
// history: the delete toast's link is gone after a few seconds.
async function openDeletedView() {
  $('#deleted-view').hidden = false;
  $('#table-wrap').hidden = true;
  $('.page-actions').hidden = true;
  $('#nav-sources').removeAttribute('aria-current');
  $('#nav-deleted').setAttribute('aria-current', 'page');
  const body = $('#deleted-body');
  body.replaceChildren(h('p', { class: 'history-note', text: 'Loading…' }));
  if (!state.tenants.length && !(await loadTenants())) {
    body.replaceChildren(h('p', { class: 'form-error', text: 'Could not load the tenants.' }));
    return;
  }
  const lists = await Promise.all(state.tenants.map((t) => api(`rest-audit?tenantId=${encodeURIComponent(t.id)}&limit=200`)));
  const groups = [];
  state.tenants.forEach((t, i) => {
    const r = lists[i];
    if (!r.ok) {
      groups.push(h('p', { class: 'form-error', text: `${t.name}: ${r.json.error || `HTTP ${r.status}`}` }));
      return;
    }
    if (!r.json.deleted.length) return;
    groups.push(h('h3', { class: 'deleted-tenant', text: t.name }), h('ul', { class: 'deleted-list' },
      ...r.json.deleted.map((d) => h('li', { class: 'deleted-entry', data: { id: d.sourceId } },
        h('a', { href: `rest-sources?audit=${encodeURIComponent(d.sourceId)}`, text: d.title || d.sourceId }),
        h('span', { class: 'deleted-meta' }, ' deleted ', h('time', { class: 'rel', datetime: d.at, title: d.at, text: relTime(d.at) }),
          ` by ${d.actor}`, d.docs != null ? ` · ${plural(d.chunks ?? 0, 'chunk', 'chunks')} removed` : '')))));
  });
  body.replaceChildren(...(groups.length ? groups : [h('p', { class: 'history-note', text: 'No source has been deleted.' })]));
}

async function loadHistory(id) {
  const hs = historyOf(id);
  const seq = ++hs.seq;
  hs.loading = true;
  const [r, runs] = await Promise.all([
    api(`rest-audit?sourceId=${encodeURIComponent(id)}&limit=${hs.limit}`),
    api(`rest-runs?sourceId=${encodeURIComponent(id)}&limit=5`)]);
  if (seq !== hs.seq) return;   // a newer load is on its way
  hs.loading = false;
  if (r.ok) {
    hs.entries = r.json.entries;
    hs.runs = runs.ok ? runs.json.runs : [];
    hs.error = null;
  } else {
    hs.error = r.json.error || `HTTP ${r.status}`;
  }
  renderHistory(id);
}

// After an action on a source: reload an open history, forget a closed one.
function historyChanged(id) {
  const hs = state.history.get(id);
  if (!hs) return;
  if (hs.open) loadHistory(id);
  else hs.entries = null;
}

function itemsCell(s, busy) {
  const parts = [];
  const known = s.total !== null && s.total !== undefined && s.total > 0;
  parts.push(h('div', { class: 'items-count' },
    h('strong', { text: n(s.itemCount) }),
    known ? h('span', { class: 'muted', text: ` of ${n(s.total)}` }) : null));
  if (known) {
    const pct = Math.min(100, Math.round((s.itemCount / s.total) * 100));
    parts.push(h('progress', {
      class: `bar${s.done ? ' bar-done' : ''}`, max: s.total, value: Math.min(s.itemCount, s.total),
      'aria-label': `${s.title}: ${pct}% of ${n(s.total)} items`,
    }));
  }
  if (s.lastRun) {
    parts.push(h('div', { class: 'run-summary', title: `Last run (${s.lastRun.status}): ${runSummary(s.lastRun)}`, text: runSummary(s.lastRun) }));
    if (s.lastRun.sweep === 'held') {
      parts.push(h('div', { class: 'sweep-held', role: 'status' },
        h('span', { text: s.lastRun.sweepNote || 'sweep held' }),
        h('button', { type: 'button', class: 'btn btn-small btn-danger', data: { action: 'sweep' }, disabled: Boolean(busy) }, 'Confirm removal')));
    }
  }
  if (busy && busy.kind === 'all') {
    const run = busy.run;
    let line;
    if (busy.waiting) line = 'another batch is running; waiting…';
    else if (busy.stop) line = 'stopping after the page in flight…';
    else if (!run || run.pages === 0) line = 'syncing to end · starting…';
    else {
      line = `syncing to end · page ${n(run.pages)} · ${n(run.items)} items`;
      if (run.itemsPerSecond) line += ` · ${n(Math.round(run.itemsPerSecond))}/s`;
      const left = s.total - s.itemCount;
      if (run.itemsPerSecond && s.total > 0 && left > 0) line += ` · about ${Math.max(1, Math.round(left / run.itemsPerSecond))} s left`;
    }
    parts.push(h('div', { class: 'run-line', text: line }));
  }
  return cell('Items', 'c-items', ...parts);
}

// The config was saved after the error happened: the error may be fixed.
function configChangedSinceError(s) {
  if (s.lastStatus !== 'error' || !s.configChangedAt || !s.lastSyncedAt) return false;
  return Date.parse(s.configChangedAt) > Date.parse(s.lastSyncedAt);
}

// Last error: the first words, the failing URL (redacted by the server)
// and HTTP status in the row; expanded, the full error and when.
function errorCell(s) {
  if (!s.lastError) return cell('Last error', 'c-error c-error-none', h('span', { class: 'muted', text: '—' }));
  const first = s.lastError.length > 70 ? `${s.lastError.slice(0, 70)}…` : s.lastError;
  const where = [s.lastErrorUrl, s.lastHttpStatus ? `HTTP ${s.lastHttpStatus}` : null].filter(Boolean).join(' · ');
  const stale = configChangedSinceError(s);
  const d = h('details', { class: 'err' },
    h('summary', { text: first }),
    h('dl', { class: 'err-facts' },
      s.lastErrorUrl ? [h('dt', { text: 'URL' }), h('dd', { class: 'mono err-url', text: s.lastErrorUrl })] : null,
      s.lastHttpStatus ? [h('dt', { text: 'HTTP' }), h('dd', { class: 'err-status', text: String(s.lastHttpStatus) })] : null,
      s.lastSyncedAt ? [h('dt', { text: 'When' }), h('dd', { class: 'err-time', text: exactTime(s.lastSyncedAt) })] : null),
    h('pre', { class: 'err-full', text: s.lastError }));
  return cell('Last error', `c-error${stale ? ' err-stale' : ''}`,
    stale ? h('p', { class: 'err-changed', text: 'config changed since this error' }) : null,
    where ? h('p', { class: 'err-where mono', title: where, text: where }) : null,
    d,
    limitHint(s.lastError) ? h('p', { class: 'err-limit', text: limitHint(s.lastError) }) : null);
}

function actionsCell(s, busy) {
  const running = busy && ['sync', 'all', 'again'].includes(busy.kind);
  const anyBusy = Boolean(busy);
  const btns = [];
  if (s.done) {
    btns.push(h('button', {
      type: 'button', class: 'btn btn-small btn-primary', data: { action: 'again' },
      disabled: anyBusy || !s.enabled,
      title: s.enabled ? 'Complete: start a new run from the first page' : 'The source is disabled',
    }, busy && busy.kind === 'again' ? 'Starting over…' : 'Sync again'));
  } else {
    btns.push(h('button', {
      type: 'button', class: 'btn btn-small btn-primary', data: { action: 'sync' },
      disabled: anyBusy || !s.enabled, title: s.enabled ? 'Fetch one page' : 'The source is disabled',
    }, busy && busy.kind === 'sync' ? 'Syncing…' : 'Sync'));
    if (busy && busy.kind === 'all') {
      btns.push(h('button', {
        type: 'button', class: 'btn btn-small btn-stop', data: { action: 'stop' }, disabled: busy.stop,
      }, busy.stop ? 'Stopping…' : 'Stop'));
    } else {
      btns.push(h('button', {
        type: 'button', class: 'btn btn-small', data: { action: 'all' },
        disabled: anyBusy || !s.enabled, title: 'Run batches until the source is complete',
      }, 'Sync to end'));
    }
  }
  const more = [
    h('button', { type: 'button', class: 'btn btn-link', data: { action: 'edit' }, disabled: running }, 'Edit'),
    h('button', { type: 'button', class: 'btn btn-link', data: { action: 'reset' }, disabled: anyBusy }, 'Reset'),
    h('button', { type: 'button', class: 'btn btn-link btn-link-danger', data: { action: 'delete' }, disabled: anyBusy }, 'Delete'),
    ...insightButtons(s, anyBusy),
  ];
  return cell('Actions', 'c-actions',
    h('div', { class: 'btn-row', role: 'group', 'aria-label': `Sync ${s.title}` }, btns),
    h('div', { class: 'btn-row btn-row-more', role: 'group', 'aria-label': `Manage ${s.title}` }, more));
}

function renderRow(tr, s) {
  const busy = state.busy.get(s.id);
  // Keep focus and open error details across the re-render.
  const focusAction = tr.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  const errOpen = Boolean(tr.querySelector('details.err[open]'));
  const [cls, label] = statusOf(s, busy);

  const http = s.lastHttpStatus;
  const httpCell = http
    ? h('span', { class: `code ${http >= 200 && http < 300 ? 'code-ok' : http === 304 ? 'code-muted' : 'code-bad'}`, text: String(http) })
    : h('span', { class: 'muted', text: '—' });
  const synced = s.lastSyncedAt
    ? h('time', { datetime: s.lastSyncedAt, title: exactTime(s.lastSyncedAt), class: 'rel', text: relTime(s.lastSyncedAt) })
    : h('span', { class: 'muted', text: 'never' });
  let next;
  if (s.done) next = h('span', { class: 'muted', text: 'end reached' });
  else if (s.nextCursor === null || s.nextCursor === undefined) next = h('span', { class: 'muted', text: 'first page' });
  else next = h('code', { class: 'cursor', title: s.nextCursor, text: cursorPart(s.nextCursor) });

  tr.className = `row row-${cls}`;
  tr.setAttribute('aria-busy', busy ? 'true' : 'false');
  tr.replaceChildren(
    sourceCell(s),
    cell('Status', 'c-status', h('span', { class: `badge badge-${cls}`, text: label })),
    itemsCell(s, busy),
    cell('Pages', 'num', n(s.pageCount)),
    cell('Chunks', 'num c-chunks', h('span', { text: n(s.chunks) }),
      h('span', { class: 'sub muted', text: plural(s.docs, 'doc', 'docs') })),
    cell('HTTP', 'c-http', httpCell),
    cell('Last synced', 'c-synced', synced),
    cell('Next cursor', 'c-cursor', next),
    errorCell(s),
    actionsCell(s, busy));
  if (errOpen) {
    const d = tr.querySelector('details.err');
    if (d) d.open = true;
  }
  if (focusAction) {
    let el = tr.querySelector(`[data-action="${focusAction}"]`);
    if (el && el.disabled) el = tr.querySelector('[data-action="stop"]:not([disabled])') || null;
    if (el && !el.disabled) el.focus();
    else tr.querySelector('button:not([disabled])')?.focus();
  }
}

// The part of a next cursor that changes from page to page: for a URL
// (Link header, next-URL cursors) its query, else the cursor itself.
function cursorPart(c) {
  if (!/^https?:\/\//i.test(c)) return c;
  try {
    const u = new URL(c);
    return u.search ? u.search : u.pathname;
  } catch {
    return c;
  }
}

function rerender(id) {
  const tr = $('#rows').querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  const s = state.sources.get(id);
  if (tr && s) renderRow(tr, s);
}

function setBusy(id, busy) {
  if (busy) state.busy.set(id, busy);
  else state.busy.delete(id);
  rerender(id);
}

// Update a row from a batch answer, before the list is fetched again.
function patchFromBatch(id, b) {
  const s = state.sources.get(id);
  if (!s) return;
  s.pageCount = b.pageCount ?? s.pageCount;
  s.itemCount = b.itemCount ?? s.itemCount;
  if (b.total !== null && b.total !== undefined && b.total >= 0) s.total = b.total;
  s.nextCursor = b.next ?? null;
  s.done = Boolean(b.done);
  s.lastStatus = b.done ? 'done' : 'ok';
  if (b.status) s.lastHttpStatus = b.status;
  s.lastError = null;
  s.lastSyncedAt = new Date().toISOString();
  if (typeof b.inserted === 'number') s.chunks = (s.chunks || 0) + b.inserted;
}

function batchDetail(b) {
  if (!b.url) return null;
  return `${b.url} → ${b.done ? 'end' : b.next ?? 'end'}`;
}

// ---- actions ----------------------------------------------------------

async function syncOnce(id) {
  const s = state.sources.get(id);
  if (!s || state.busy.has(id)) return;
  setBusy(id, { kind: 'sync' });
  const r = await api('rest-batch', { sourceId: id });
  if (r.ok) {
    patchFromBatch(id, r.json);
    const title = r.json.fetched === false || (r.json.done && r.json.items === 0 && !r.json.url)
      ? 'Already complete: nothing to fetch'
      : `Fetched ${plural(r.json.items, 'item', 'items')}`;
    toast(r.json.done ? 'done' : 'ok', title, batchDetail(r.json));
  } else {
    toast('error', `Sync of “${s.title}” failed`, errorDetail(r));
  }
  state.busy.delete(id);
  rerender(id);
  historyChanged(id);
  await refresh({ quiet: true });
}

function errorDetail(r) {
  const j = r.json;
  const bits = [j.error || `HTTP ${r.status}`];
  if (j.url) bits.push(j.status ? `${j.url} (HTTP ${j.status})` : j.url);
  const lim = limitHint(j.error);
  if (lim) bits.push(lim);
  return bits.join('\n');
}

// Which limit an error hit, and how to change it (README: timeoutMs).
// The fetcher says which limit a timeout hit (http_fetch.c
// fetch_timed_out): the request's own timeoutMs, or the batch deadline.
function limitHint(msg) {
  msg = msg || '';
  let m = /timed out after (\d+) ms at the batch deadline \((\d+) ms were left of the batch when the request started; the request timeout, timeoutMs, is (\d+) ms\)/.exec(msg);
  if (m) {
    return `The batch deadline (20 s for the whole batch, retries included) was hit after ${n(+m[1])} ms of this request, `
      + `before its own timeout (timeoutMs = ${n(+m[3])} ms): it cannot be raised; lower "timeoutMs" or "defaultPageSize" so that a batch fits.`;
  }
  m = /timed out after (\d+) ms/.exec(msg);
  if (m) return `The source's request timeout (timeoutMs = ${n(+m[1])} ms) was hit: raise "timeoutMs" in the config (at most 15,000 ms).`;
  m = /retry after (\d+) ms, beyond the batch deadline/.exec(msg);
  if (m) return `The API asked to wait ${n(+m[1])} ms before retrying, longer than the batch deadline (20 s) allows: sync again later.`;
  if (/batch deadline|no time left to retry/.test(msg)) {
    return 'The batch deadline (20 s, retries included) was hit: it cannot be raised; lower "timeoutMs" or "defaultPageSize".';
  }
  if (/exceeds \d+ bytes/.test(msg || '')) return 'The response size cap was hit: raise "maxBodyBytes" in the config (at most 64 MiB).';
  return null;
}

// Sync to end is a server-side run (POST rest-sync): a worker carries it
// out whether or not this page stays open; the page follows it by polling
// rest-runs, and Stop asks the worker to stop after the page in flight.
async function syncToEnd(id) {
  const s = state.sources.get(id);
  if (!s || state.busy.has(id)) return;
  const busy = { kind: 'all', stop: false, batches: 0, waiting: false, items: 0, runId: null, run: null };
  setBusy(id, busy);
  let retries = 0;
  let outcome = null;
  while (!busy.stop) {
    const r = await api('rest-sync', { sourceId: id });
    if (r.status === 409 && /already running/i.test(r.json.error || '')) {
      if (++retries > RETRY_409_MAX) {
        outcome = ['error', 'Sync to end gave up', 'Another batch of this source kept running.'];
        break;
      }
      busy.waiting = true;
      rerender(id);
      await sleep(RETRY_409_MS);
      continue;
    }
    busy.waiting = false;
    if (!r.ok) outcome = ['error', 'Sync to end could not start', errorDetail(r)];
    else busy.runId = r.json.runId;
    break;
  }
  if (busy.runId) outcome = await followRun(id, busy);
  if (!outcome) outcome = ['info', 'Sync to end stopped', 'Stopped before it started.'];
  state.busy.delete(id);
  rerender(id);
  historyChanged(id);
  toast(...outcome);
  await refresh({ quiet: true });
}

// Poll the run until it ends; returns the toast for its end.
async function followRun(id, busy) {
  for (;;) {
    if (busy.stop && !busy.stopSent) {
      busy.stopSent = true;
      const r = await api('rest-sync-stop', { sourceId: id });
      if (!r.ok && r.status !== 409) return ['error', 'Stop failed', errorDetail(r)];
    }
    const r = await api(`rest-runs?sourceId=${encodeURIComponent(id)}&limit=1`);
    const run = r.ok ? r.json.runs[0] : null;
    if (run && run.id === busy.runId) {
      // Re-render only when the run moved: a row re-drawn on every poll
      // would move its Stop button from under the pointer.
      const moved = !busy.run || busy.run.pages !== run.pages || busy.run.items !== run.items
        || busy.run.status !== run.status;
      busy.run = run;
      busy.batches = run.pages;
      busy.items = run.items;
      const s = state.sources.get(id);
      if (s) {
        // The cursor counts the walk: what it had before this run's
        // pages, plus them.
        if (busy.base === undefined) {
          busy.base = run.fromStart ? { items: 0, pages: 0 }
            : { items: Math.max(0, (s.itemCount || 0) - run.items), pages: Math.max(0, (s.pageCount || 0) - run.pages) };
        }
        s.lastRun = run;
        s.itemCount = busy.base.items + run.items;
        s.pageCount = busy.base.pages + run.pages;
        if (run.total !== null && run.total !== undefined) s.total = run.total;
      }
      if (moved) rerender(id);
      if (run.status === 'done') {
        await refresh({ quiet: true });
        const cur = state.sources.get(id);
        return ['done', `Completed: ${n(cur ? cur.itemCount : run.items)} items`,
          `${plural(run.pages, 'page', 'pages')} in this run · ${runSummary(run)}`];
      }
      if (run.status === 'failed') return ['error', `Sync to end stopped: page ${n(run.pages + 1)} failed`, run.error || ''];
      if (run.status === 'stopped') {
        return ['info', 'Sync to end stopped', `${plural(run.pages, 'page', 'pages')}, ${plural(run.items, 'item', 'items')} in this run`];
      }
    } else if (r.ok) {
      return ['info', 'Sync to end', 'The run was replaced by another one.'];
    }
    await sleep(RUN_POLL_MS);
  }
}

// A page opened while a server-side run goes on follows it.
function followRunning() {
  for (const [id, s] of state.sources) {
    const run = s.lastRun;
    if (!run || run.status !== 'running' || !run.server || state.busy.has(id)) continue;
    const busy = { kind: 'all', stop: false, batches: run.pages, waiting: false, items: run.items, runId: run.id, run };
    setBusy(id, busy);
    followRun(id, busy).then((outcome) => {
      state.busy.delete(id);
      rerender(id);
      historyChanged(id);
      toast(...outcome);
      refresh({ quiet: true });
    });
  }
}

async function confirmSweep(id) {
  const s = state.sources.get(id);
  if (!s || !s.lastRun) return;
  const ok = await confirmDialog({
    title: 'Remove the items the last run did not see?',
    lines: [
      [h('strong', { text: s.title }), `: ${s.lastRun.sweepNote || ''}`],
      [`${plural(s.lastRun.sweepCandidates, 'item', 'items')} and the chunks no other item holds leave the knowledge base.`],
    ],
    confirm: 'Remove them',
    danger: true,
  });
  if (!ok) return;
  setBusy(id, { kind: 'sweep' });
  const r = await api('rest-sweep', { sourceId: id, runId: s.lastRun.id });
  state.busy.delete(id);
  if (r.ok) toast('ok', `Removed ${plural(r.json.removedItems, 'item', 'items')}`, `${plural(r.json.chunksDeleted, 'chunk', 'chunks')} deleted from “${s.title}”`);
  else toast('error', 'Sweep failed', r.json.error);
  rerender(id);
  historyChanged(id);
  await refresh({ quiet: true });
}

// A completed source: a new run from the first page (Reset, then one
// batch).  Docs and chunks stay; unchanged items are not embedded again.
async function syncAgain(id) {
  const s = state.sources.get(id);
  if (!s || state.busy.has(id)) return;
  setBusy(id, { kind: 'again' });
  // keepMark: an incremental source's new walk stays incremental.
  const r = await api('rest-sources-reset', { sourceId: id, keepMark: true });
  state.busy.delete(id);
  if (!r.ok) {
    toast('error', `Sync again of “${s.title}” failed`, r.json.error);
    rerender(id);
    historyChanged(id);
    return;
  }
  state.sources.set(id, r.json.source);
  rerender(id);
  await syncOnce(id);
}

async function resetSource(id) {
  const s = state.sources.get(id);
  if (!s) return;
  const ok = await confirmDialog({
    title: 'Reset the cursor?',
    lines: [
      ['Start ', h('strong', { text: s.title }), ' over from the first page.'],
      [`The ${plural(s.chunks, 'chunk', 'chunks')} already stored stay; a re-sync embeds only what changed, and a complete run removes what the upstream no longer has.`],
    ],
    confirm: 'Reset cursor',
    danger: false,
  });
  if (!ok) return;
  setBusy(id, { kind: 'reset' });
  const r = await api('rest-sources-reset', { sourceId: id });
  state.busy.delete(id);
  if (r.ok) {
    state.sources.set(id, r.json.source);
    toast('ok', `Cursor reset: “${s.title}” starts over`);
  } else {
    toast('error', 'Reset failed', r.json.error);
  }
  rerender(id);
  historyChanged(id);
  await refresh({ quiet: true });
}

async function deleteSource(id) {
  await refresh({ quiet: true });   // counts as of now
  const s = state.sources.get(id);
  if (!s) return;
  const ok = await confirmDialog({
    title: 'Delete this source?',
    lines: [
      ['Delete ', h('strong', { text: s.title }), ` of ${s.tenantName}?`],
      ['This removes ', h('strong', { class: 'count-docs', text: plural(s.docs, 'doc', 'docs') }), ' and ',
        h('strong', { class: 'count-chunks', text: plural(s.chunks, 'chunk', 'chunks') }),
        ' from the knowledge base, with the cursor. It cannot be undone.'],
    ],
    confirm: 'Delete source',
    danger: true,
  });
  if (!ok) return;
  setBusy(id, { kind: 'delete' });
  const r = await api('rest-delete', { sourceId: id });
  state.busy.delete(id);
  if (r.ok) {
    const d = r.json.deleted;
    toast('ok', `Deleted “${s.title}”`, `${plural(d.docs, 'doc', 'docs')} and ${plural(d.chunks, 'chunk', 'chunks')} removed`,
      { href: `rest-sources?audit=${encodeURIComponent(id)}`, text: 'Its history stays here' });
    state.sources.delete(id);
    state.order = state.order.filter((x) => x !== id);
    renderAll();
    $('#add').focus();
  } else {
    toast('error', 'Delete failed', r.json.error);
    rerender(id);
  }
  await refresh({ quiet: true });
}

// ---- dialogs ----------------------------------------------------------

function confirmDialog({ title, lines, confirm, danger }) {
  const dlg = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-body').replaceChildren(...lines.map((l) => h('p', {}, ...l)));
  const ok = $('#confirm-ok');
  ok.textContent = confirm;
  ok.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
  const opener = document.activeElement;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      if (opener && opener.isConnected && !opener.disabled) opener.focus();
      resolve(dlg.returnValue === 'ok');
    }, { once: true });
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

// Templates carry no provider: the key of a new source is stored for the
// baseUrl's host unless the config names a provider (keyProvider).
const TEMPLATES = {
  offset: () => ({
    baseUrl: `${location.origin}/demo/dummyjson/products`,
    cursorStyle: 'offset',
    cursorParam: 'skip',
    pageSizeParam: 'limit',
    defaultPageSize: 50,
    itemsPath: 'products',
    currentOffsetPath: 'skip',
    totalPath: 'total',
    headersTemplate: {},
    textFields: ['title', 'description', 'brand', 'category', 'tags'],
    titleField: 'title',
    allowedRolesOverride: ['member', 'support', 'operations', 'admin'],
    requiresAuth: false,
  }),
  cursor: () => ({
    baseUrl: 'https://api.example.com/v1/items',
    cursorStyle: 'cursor',
    cursorParam: 'cursor',
    pageSizeParam: 'limit',
    defaultPageSize: 100,
    itemsPath: 'data',
    nextCursorPath: 'next_cursor',
    hasMorePath: 'has_more',
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' },
    requiresAuth: true,
    textFields: ['title', 'body'],
    titleField: 'title',
  }),
  page: () => ({
    baseUrl: 'https://api.example.com/v1/articles',
    cursorStyle: 'page',
    cursorParam: 'page',
    pageSizeParam: 'per_page',
    defaultPageSize: 50,
    pageStart: 1,
    itemsPath: 'data.items',
    totalPagesPath: 'meta.total_pages',
    queryTemplate: { api_key: '{{API_KEY}}' },
    requiresAuth: true,
    textFields: ['title', 'summary', 'content'],
    titleField: 'title',
  }),
  // RFC 8288: the next page is the Link header's rel="next" (GitHub-style
  // APIs); the body is a top-level array.
  link: () => ({
    baseUrl: 'https://api.example.com/v1/issues?state=all',
    cursorStyle: 'link',
    pageSizeParam: 'per_page',
    defaultPageSize: 100,
    itemsPath: '$',
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' },
    requiresAuth: true,
    textFields: ['title', 'body'],
    titleField: 'title',
  }),
};

const templateText = (name) => JSON.stringify(TEMPLATES[name](), null, 2);

async function loadTenants() {
  const r = await api('tenants');
  if (!r.ok) {
    toast('error', 'Could not load the tenants', r.json.error);
    return false;
  }
  state.tenants = r.json.tenants;
  return true;
}

function fieldOf(msg) {
  const m = /^'?(tenantId|title|config|apiKey|clientId|clientSecret|enabled)\b'?/.exec(msg || '');
  return m ? m[1] : null;
}

const FIELD_IDS = { tenantId: 'f-tenant', title: 'f-title', config: 'f-config', apiKey: 'f-apikey',
  clientId: 'f-clientid', clientSecret: 'f-clientsecret', enabled: 'f-enabled' };

function showFormError(msg) {
  const box = $('#form-error');
  for (const id of Object.values(FIELD_IDS)) $(`#${id}`).removeAttribute('aria-invalid');
  if (!msg) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = msg;
  box.hidden = false;
  const f = fieldOf(msg);
  if (f) {
    const el = $(`#${FIELD_IDS[f]}`);
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-errormessage', 'form-error');
    el.focus();
  }
}

// ---- the source form ---------------------------------------------------

// The config of the editor, or null when it is not a JSON object.
function formConfig() {
  try {
    const c = JSON.parse($('#f-config').value);
    return c && typeof c === 'object' && !Array.isArray(c) ? c : null;
  } catch {
    return null;
  }
}

// The provider the server gives a new source that needs a key and names
// none (srcinput.c srcin_host_provider): the baseUrl's host, lowercase,
// with the port when it is not the scheme's, other characters than
// A-Z a-z 0-9 _ . - as "-" ("127.0.0.1-8080").
function hostProvider(baseUrl) {
  try {
    const host = new URL(baseUrl).host.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
    return host || null;
  } catch {
    return null;
  }
}

// The origin a key is bound to (http_fetch.c fetch_origin), or null.
function originOf(url) {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

// Does this form store or use a key (a key typed, or requiresAuth)?
const wantsKey = (cfg) => $('#f-apikey').value !== '' || $('#f-clientid').value !== ''
  || $('#f-clientsecret').value !== '' || Boolean(cfg && cfg.requiresAuth);

// A config whose auth is OAuth2 client credentials: the key field becomes
// the client id and secret (issue 17).
const isOAuth = (cfg) => Boolean(cfg && cfg.auth && typeof cfg.auth === 'object'
  && cfg.auth.type === 'oauth2_client_credentials');

// Show the key field or the client credentials for the config as typed.
// Hidden fields keep what was typed (a failed save keeps it too); Save
// sends only the fields shown.
function syncSecretFields() {
  const oauth = isOAuth(formConfig());
  $('#f-key-field').hidden = oauth;
  $('#f-oauth').hidden = !oauth;
  return oauth;
}

// The provider the key of this form belongs to: the config's; for a new
// source that needs a key and names none, the baseUrl's host (the server
// writes it into the config), so two APIs of a tenant never share a key
// by accident; an edit keeps the provider stored; else "rest".
function keyProvider(cfg) {
  if (!cfg) return null;
  if (typeof cfg.provider === 'string' && cfg.provider) return cfg.provider;
  if (state.editing) return state.editing.summary ? state.editing.summary.provider : 'rest';
  if (wantsKey(cfg)) return hostProvider(cfg.baseUrl) || 'rest';
  return 'rest';
}

// The other sources of the tenant that use the key stored for this
// provider and origin (they require auth and it is stored): the ones the
// server names when a typed key would replace it (srcsecret.c).
function keyUsers(tenantId, provider, origin) {
  const self = state.editing ? state.editing.id : null;
  return [...state.sources.values()].filter((o) => o.id !== self && o.tenantId === tenantId
    && o.summary && o.summary.provider === provider && o.summary.requiresAuth && o.hasSecret
    && originOf(o.summary.baseUrl) === origin);
}

function namesOf(list) {
  const names = list.slice(0, 5).map((o) => o.title);
  if (list.length > 5) names.push(`${n(list.length - 5)} more`);
  return names.join(', ');
}

// Say, before saving, which other sources a typed key would replace the
// key of; the replacement must be chosen.  Returns the users (or []).
function updateKeyNote() {
  const cfg = formConfig();
  const provider = keyProvider(cfg);
  const tenantId = state.editing ? state.editing.tenantId : $('#f-tenant').value;
  const users = provider ? keyUsers(tenantId, provider, originOf(cfg.baseUrl)) : [];
  // The shared-key note is the API key's (the client credentials' field
  // has none; a typed key the config no longer uses is not sent).
  const typed = $('#f-apikey').value !== '' && !isOAuth(cfg);
  const box = $('#f-key-shared');
  const withKey = users.filter((o) => o.hasSecret);
  const shared = typed && users.length > 0;
  box.hidden = !shared;
  if (shared) {
    $('#f-key-shared-text').textContent = `This key is used by ${plural(users.length, 'other source', 'other sources')} `
      + `of this tenant: ${namesOf(users)} — replacing it affects them.`;
  } else {
    $('#f-replace-key').checked = false;
  }
  const hint = $('#f-apikey-hint');
  if (!cfg || !provider) hint.textContent = 'Write-only: stored encrypted for the tenant and the config\u2019s provider, never shown again.';
  else if (!typed && withKey.length && !state.editing) hint.textContent = `Write-only. Provider “${provider}”: this source will use the key already stored for ${namesOf(withKey)}.`;
  else hint.textContent = `Write-only: stored encrypted for this tenant and provider “${provider}”, never shown again.`;
  return shared ? users : [];
}

// ---- live config check (the server's messages, before Save) -----------

// Known top-level keys of a config (config.c's cfg_keys).
const CONFIG_KEYS = new Set(['baseUrl', 'cursorStyle', 'cursorParam', 'pageSizeParam', 'defaultPageSize', 'itemsPath',
  'nextCursorPath', 'currentOffsetPath', 'totalPath', 'hasMorePath', 'pageStart', 'totalPagesPath', 'maxPages',
  'headersTemplate', 'queryTemplate', 'requiresAuth', 'provider', 'auth', 'textFields', 'titleField',
  'allowedRolesOverride', 'ifNoneMatchHeader', 'ifModifiedSinceHeader', 'maxBodyBytes', 'syncIntervalMinutes',
  'itemIdPath', 'deleteMissing', 'maxDeleteFraction', 'timeoutMs', 'incremental', 'method', 'bodyTemplate',
  'rateLimit']);

// The config as saved (configAsSaved: its key order kept); a config from
// before that (jsonb sorts keys by length) in the order of the config
// table (README, templates), unknown keys last.
function readableConfig(cfg, asSaved = false) {
  if (asSaved || !cfg || typeof cfg !== 'object' || Array.isArray(cfg)) return cfg;
  const order = [...CONFIG_KEYS];
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.fromEntries(Object.entries(cfg).sort(([x], [y]) => rank(x) - rank(y)));
}

// Line and column (1-based) of a character offset.
function lineCol(text, pos) {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return [line, pos - before.lastIndexOf('\n')];
}

// The message the server gives for the JSON of the editor (config.c
// cfg_parse), or null when the syntax and keys are fine.
function configProblem(text) {
  const t = text.trim();
  if (!t.startsWith('{')) return 'config: config must be a JSON object';
  try {
    const c = JSON.parse(text);
    if (!c || typeof c !== 'object' || Array.isArray(c)) return 'config: config must be a JSON object';
    for (const k of Object.keys(c)) if (!CONFIG_KEYS.has(k)) return `config: unknown key '${k.slice(0, 64)}'`;
    return null;
  } catch (e) {
    const m = /position (\d+)/.exec(e.message);
    const pos = m ? Number(m[1]) : text.length;
    if (!m && /end of (JSON )?input|Unterminated/i.test(e.message)) return 'config: config is truncated JSON';
    const [line, col] = lineCol(text, pos);
    return `config: config is not valid JSON at line ${line}, column ${col}`;
  }
}

function checkConfigLive() {
  const p = configProblem($('#f-config').value);
  const box = $('#f-config-check');
  box.textContent = p || 'Valid JSON, known keys. The server checks the values on Save.';
  box.classList.toggle('config-check-bad', Boolean(p));
  if (p) {
    $('#f-config').setAttribute('aria-invalid', 'true');
  } else {
    // A server message about the config is stale once the text changed.
    if (!$('#form-error').hidden && fieldOf($('#form-error').textContent) === 'config') showFormError(null);
    if ($('#form-error').hidden || fieldOf($('#form-error').textContent) !== 'config') $('#f-config').removeAttribute('aria-invalid');
  }
  return p;
}

// ---- open, template, close -----------------------------------------------

const formValues = () => JSON.stringify([$('#f-tenant').value, $('#f-title').value, $('#f-config').value,
  $('#f-apikey').value, $('#f-clientid').value, $('#f-clientsecret').value, $('#f-enabled').checked]);

// Pick the template the editor shows, "custom" once the text is not one.
function syncTemplatePicker() {
  const text = $('#f-config').value;
  const match = Object.keys(TEMPLATES).find((k) => templateText(k) === text);
  const sel = $('#f-template');
  if (match) sel.value = match;
  else sel.value = state.form.edited || text !== state.form.openText ? 'custom' : '';
  $('#f-template-custom').hidden = sel.value !== 'custom';
  sel.dataset.prev = sel.value;
}

async function applyTemplate() {
  const sel = $('#f-template');
  const name = sel.value;
  if (!TEMPLATES[name]) {
    sel.value = sel.dataset.prev || '';
    return;
  }
  const text = $('#f-config').value;
  const handTyped = text.trim() !== '' && !Object.keys(TEMPLATES).some((k) => templateText(k) === text);
  if (handTyped) {
    const ok = await confirmDialog({
      title: 'Replace the config with the template?',
      lines: [['The config you typed is replaced by the ', h('strong', { text: sel.options[sel.selectedIndex].text }),
        ' template. This cannot be undone.']],
      confirm: 'Replace config',
      danger: true,
    });
    if (!ok) {
      sel.value = sel.dataset.prev || 'custom';
      return;
    }
  }
  $('#f-config').value = templateText(name);
  state.form.edited = false;
  syncTemplatePicker();
  checkConfigLive();
  updateKeyNote();
}

async function openSourceForm(id) {
  if (!state.tenants.length && !(await loadTenants())) return;
  const s = id ? state.sources.get(id) : null;
  state.editing = s;
  const sel = $('#f-tenant');
  sel.replaceChildren(...state.tenants.map((t) => h('option', { value: t.id, text: t.name })));
  if (s && !state.tenants.some((t) => t.id === s.tenantId)) sel.append(h('option', { value: s.tenantId, text: s.tenantName }));
  sel.value = s ? s.tenantId : (state.tenants[0]?.id ?? '');
  sel.disabled = Boolean(s);
  $('#f-tenant-hint').hidden = !s;
  $('#source-dialog-title').textContent = s ? 'Edit source' : 'Add source';
  $('#f-save').textContent = s ? 'Save changes' : 'Add source';
  $('#f-title').value = s ? s.title : '';
  const text = s ? JSON.stringify(readableConfig(s.config, s.configAsSaved), null, 2) : templateText('offset');
  $('#f-config').value = text;
  state.form = { openText: text, edited: false, baseline: null };
  $('#f-apikey').value = '';
  $('#f-clientid').value = '';
  $('#f-clientsecret').value = '';
  $('#f-replace-key').checked = false;
  const keySet = Boolean(s && s.hasSecret);
  $('#f-key-state').hidden = !keySet;
  $('#f-oauth-state').hidden = !keySet;
  $('#f-apikey').placeholder = keySet ? 'Leave empty to keep the stored key' : (s ? 'No key stored' : 'Optional');
  $('#f-clientid').placeholder = keySet ? 'Leave both empty to keep the stored ones' : 'Client ID';
  $('#f-clientsecret').placeholder = keySet ? 'Leave both empty to keep the stored ones' : 'Client secret';
  $('#f-enabled').checked = s ? s.enabled : true;
  showFormError(null);
  syncTemplatePicker();
  checkConfigLive();
  syncSecretFields();
  updateKeyNote();
  state.form.baseline = formValues();
  $('#source-dialog').showModal();
  $('#f-title').focus();
}

// Cancel, ×, Escape: a changed form asks before it is thrown away.
async function closeSourceForm() {
  const dlg = $('#source-dialog');
  if (!dlg.open) return;
  if (state.form && formValues() !== state.form.baseline) {
    const ok = await confirmDialog({
      title: 'Discard your changes?',
      lines: [['What you typed in this form (the API key too) is lost.']],
      confirm: 'Discard changes',
      danger: true,
    });
    if (!ok) return;
  }
  $('#f-apikey').value = '';
  $('#f-clientid').value = '';
  $('#f-clientsecret').value = '';
  dlg.close();
}

async function submitSourceForm(ev) {
  ev.preventDefault();
  const s = state.editing;
  // A new source that needs a key and names no provider gets the host's
  // from the server (keyProvider says which beforehand).
  const shared = updateKeyNote();
  if (shared.length && !$('#f-replace-key').checked) {
    showFormError(`apiKey: this key is used by ${plural(shared.length, 'other source', 'other sources')} of this tenant `
      + `(${namesOf(shared)}). Tick “Replace the key for them too”, or name another "provider" in the config.`);
    return;
  }
  const body = {
    title: $('#f-title').value,
    config: $('#f-config').value,
    enabled: $('#f-enabled').checked,
  };
  if (syncSecretFields()) {
    body.clientId = $('#f-clientid').value;
    body.clientSecret = $('#f-clientsecret').value;
  } else body.apiKey = $('#f-apikey').value;
  // Replacing a key other sources use is the operator's explicit choice;
  // the server refuses it without this (400 naming them).
  if (shared.length && $('#f-replace-key').checked) body.replaceSharedKey = true;
  const typedSecret = Boolean(body.apiKey || body.clientId || body.clientSecret);
  if (s) body.sourceId = s.id;
  else body.tenantId = $('#f-tenant').value;
  const save = $('#f-save');
  save.disabled = true;
  const r = await api(s ? 'rest-sources-update' : 'rest-sources', body);
  save.disabled = false;
  if (!r.ok) {
    // Everything typed stays, the key too (in the field, in memory only).
    const msg = r.json.error || `HTTP ${r.status}`;
    const kept = body.apiKey ? 'The API key you typed is kept' : 'The client credentials you typed are kept';
    showFormError(typedSecret ? `${msg}\n${kept}: fix this and save again.` : msg);
    return;
  }
  $('#f-apikey').value = '';
  $('#f-clientid').value = '';
  $('#f-clientsecret').value = '';
  const src = r.json.source;
  $('#source-dialog').close();
  state.sources.set(src.id, src);
  historyChanged(src.id);
  toast('ok', s ? `Saved “${src.title}”` : `Added “${src.title}”`,
    typedSecret ? `The ${body.apiKey ? 'API key was' : 'client credentials were'} stored encrypted for provider `
      + `“${src.summary ? src.summary.provider : 'rest'}”.` : null);
  await refresh({ quiet: true });
  const tr = $('#rows').querySelector(`tr[data-id="${CSS.escape(src.id)}"]`);
  if (tr) {
    tr.classList.add('row-flash');
    setTimeout(() => tr.classList.remove('row-flash'), 1600);
    tr.querySelector('[data-action="sync"]:not([disabled]), [data-action="edit"]')?.focus();
  }
}

// ---- wiring -----------------------------------------------------------

function onRowClick(ev) {
  const btn = ev.target.closest('button[data-action]');
  if (!btn || btn.disabled) return;
  const id = btn.closest('tr[data-id]')?.dataset.id;
  if (!id) return;
  switch (btn.dataset.action) {
  case 'sync': syncOnce(id); break;
  case 'all': syncToEnd(id); break;
  case 'stop': {
    const b = state.busy.get(id);
    if (b) {
      b.stop = true;
      rerender(id);
      // The run's worker stops after its page in flight.
      if (b.runId && !b.stopSent) {
        b.stopSent = true;
        api('rest-sync-stop', { sourceId: id }).then((r) => {
          if (!r.ok && r.status !== 409) toast('error', 'Stop failed', errorDetail(r));
        });
      }
    }
    break;
  }
  case 'edit': openSourceForm(id); break;
  case 'reset': resetSource(id); break;
  case 'again': syncAgain(id); break;
  case 'sweep': confirmSweep(id); break;
  case 'delete': deleteSource(id); break;
  default: break;
  }
}

function init() {
  $('#rows').addEventListener('click', onRowClick);
  $('#refresh').addEventListener('click', async () => {
    if (await refresh()) toast('info', 'Sources refreshed');
  });
  $('#add').addEventListener('click', () => openSourceForm(null));
  $('#filter').addEventListener('input', applyFilter);
  $('#add-empty').addEventListener('click', () => openSourceForm(null));
  $('#source-form').addEventListener('submit', submitSourceForm);
  for (const b of document.querySelectorAll('#source-dialog [data-close]')) {
    b.addEventListener('click', closeSourceForm);
  }
  $('#source-dialog').addEventListener('cancel', (ev) => {
    ev.preventDefault();
    closeSourceForm();
  });
  $('#f-template').addEventListener('change', applyTemplate);
  $('#f-config').addEventListener('input', () => {
    state.form.edited = true;
    syncTemplatePicker();
    checkConfigLive();
    syncSecretFields();
    updateKeyNote();
  });
  for (const sel of ['#f-apikey', '#f-clientid', '#f-clientsecret', '#f-tenant']) $(sel).addEventListener('input', updateKeyNote);
  $('#f-format').addEventListener('click', () => {
    const p = configProblem($('#f-config').value);
    if (p) {
      showFormError(p);
      return;
    }
    $('#f-config').value = JSON.stringify(JSON.parse($('#f-config').value), null, 2);
    showFormError(null);
    syncTemplatePicker();
  });
  // Relative times tick; the list follows changes made elsewhere.
  setInterval(() => {
    for (const t of document.querySelectorAll('time.rel')) t.textContent = relTime(t.getAttribute('datetime'));
  }, 30000);
  setInterval(() => {
    if (document.visibilityState === 'visible' && state.busy.size === 0 &&
        !document.querySelector('dialog[open]')) refresh({ quiet: true });
  }, AUTO_REFRESH_MS);
  const params = new URLSearchParams(location.search);
  const audit = params.get('audit');
  if (audit && UUID_RE.test(audit)) openAuditView(audit);
  else if (params.has('deleted')) openDeletedView();
  refresh();
}

init();

// ---- insight (issue 15): Test a config, Search as a role, Items, the embedder
//
// Kept apart from the list code above: the Test button of the source
// dialog (rest-preview), a dialog per source with a Search panel
// (rest-search, with a role selector, per source or per tenant) and an
// Items panel (rest-items, keyset paged, an item opens its chunks), the
// deployment's embedder under the title (health), and Re-embed when a
// source's batches are refused for another model (rest-reembed).

const INSIGHT_ROLES = ['member', 'support', 'operations', 'admin'];
const ITEMS_PAGE = 50;
const insight = { source: null, after: null, seq: 0 };

// Buttons added to a row's "more" group (actionsCell).
function insightButtons(s, anyBusy) {
  const btns = [
    h('button', { type: 'button', class: 'btn btn-link', data: { action: 'insight-search' } }, 'Search'),
    h('button', { type: 'button', class: 'btn btn-link', data: { action: 'insight-items' } }, 'Items'),
  ];
  if (/re-embed it first/.test(s.lastError || '')) {
    btns.push(h('button', {
      type: 'button', class: 'btn btn-link', data: { action: 'reembed' }, disabled: anyBusy,
      title: 'Re-embed the chunks with the deployment\'s model',
    }, 'Re-embed'));
  }
  return btns;
}

function ms(v) {
  return `${Math.round(v)} ms`;
}

function previewItem(it) {
  const meta = it.empty ? 'no text' : `${plural(it.chunks, 'chunk', 'chunks')} · ${it.tokens.map((t) => `~${n(t)}`).join(' + ')} tokens`;
  return h('li', { class: `pv-item${it.empty ? ' pv-empty' : ''}` },
    h('div', { class: 'pv-head' },
      h('strong', { text: it.title }),
      h('code', { class: 'pv-key', text: it.key }),
      h('span', { class: 'muted', text: meta })),
    it.empty ? null : h('pre', { class: 'pv-text', text: it.text + (it.truncated ? '\n…' : '') }));
}

function renderPreview(r) {
  const box = $('#f-preview');
  box.hidden = false;
  const j = r.json;
  if (!r.ok) {
    box.className = 'preview preview-error';
    box.replaceChildren(
      h('p', { class: 'pv-title', text: `Test failed (HTTP ${r.status})` }),
      h('p', { class: 'pv-msg', text: j.error || '' }),
      j.url ? h('p', { class: 'muted' }, 'URL ', h('code', { text: j.url }), j.status ? ` answered ${j.status}` : '') : null);
    return;
  }
  box.className = 'preview';
  const summary = [`HTTP ${j.status}`, plural(j.items, 'item', 'items'), plural(j.chunks, 'chunk', 'chunks'),
    `~${n(j.estimatedTokens)} tokens`, j.done ? 'last page' : `next: ${j.next}`,
    j.total !== null ? `total ${n(j.total)}` : null, ms(j.totalMs)].filter(Boolean).join(' · ');
  box.replaceChildren(
    h('p', { class: 'pv-title', text: 'Test: nothing was saved, written or embedded' }),
    h('p', { class: 'pv-summary', text: summary }),
    h('p', { class: 'muted' }, 'URL ', h('code', { class: 'pv-url', text: j.url })),
    ...j.warnings.map((w) => h('p', { class: 'pv-warn', role: 'alert', text: w })),
    h('ol', { class: 'pv-items' }, j.preview.map(previewItem)),
    j.items > j.preview.length ? h('p', { class: 'muted', text: `… and ${plural(j.items - j.preview.length, 'more item', 'more items')}` }) : null);
}

async function testSourceForm() {
  const s = state.editing;
  const body = { config: $('#f-config').value };
  const key = $('#f-apikey').value;
  if (key) body.apiKey = key;
  if (s) body.sourceId = s.id;
  else {
    body.tenantId = $('#f-tenant').value;
    if ($('#f-title').value.trim()) body.title = $('#f-title').value;
  }
  const btn = $('#f-test');
  btn.disabled = true;
  btn.textContent = 'Testing…';
  const r = await api('rest-preview', body);
  btn.disabled = false;
  btn.textContent = 'Test';
  if (r.status === 400) {
    $('#f-preview').hidden = true;
    showFormError(r.json.error);
    return;
  }
  showFormError(null);
  renderPreview(r);
  $('#f-preview').scrollIntoView({ block: 'nearest' });
}

// ---- the Search / Items dialog

function openInsight(id, tab) {
  const s = state.sources.get(id);
  if (!s) return;
  insight.source = s;
  $('#insight-title').textContent = s.title;
  const roles = [...new Set([...INSIGHT_ROLES, ...(s.config?.allowedRolesOverride || [])])];
  $('#s-role').replaceChildren(h('option', { value: '', text: 'any role' }),
    ...roles.map((r) => h('option', { value: r, text: r })));
  $('#s-scope').options[1].textContent = `All sources of ${s.tenantName || 'the tenant'}`;
  $('#s-results').replaceChildren();
  $('#s-error').hidden = true;
  $('#s-embedder').textContent = '';
  $('#i-rows').replaceChildren();
  $('#i-chunks').hidden = true;
  insight.after = null;
  showTab(tab);
  $('#insight-dialog').showModal();
  if (tab === 'items') loadItems(true);
  else $('#s-query').focus();
}

function showTab(tab) {
  for (const t of ['search', 'items']) {
    $(`#tab-${t}`).setAttribute('aria-selected', String(t === tab));
    $(`#panel-${t}`).hidden = t !== tab;
  }
}

function hit(r) {
  return h('li', { class: 'hit' },
    h('div', { class: 'hit-head' },
      h('span', { class: 'hit-score', title: 'cosine similarity', text: r.score.toFixed(3) }),
      h('strong', { text: r.title || '(no title)' }),
      h('code', { class: 'pv-key', text: r.itemKey || '' }),
      h('span', { class: 'muted', text: `chunk ${r.itemChunkIndex ?? '?'} · ${r.docTitle} #${r.chunkIndex}` })),
    h('p', { class: 'hit-text', text: r.excerpt }),
    h('p', { class: 'hit-roles' }, 'Roles: ', r.allowedRoles.map((x) => h('span', { class: 'role', text: x }))));
}

async function runSearch(ev) {
  ev.preventDefault();
  const s = insight.source;
  const q = $('#s-query').value.trim();
  if (!s || !q) return;
  const body = { query: q, k: 10 };
  if ($('#s-scope').value === 'tenant') body.tenantId = s.tenantId;
  else body.sourceId = s.id;
  if ($('#s-role').value) body.role = $('#s-role').value;
  const seq = ++insight.seq;
  $('#s-go').disabled = true;
  const r = await api('rest-search', body);
  $('#s-go').disabled = false;
  if (seq !== insight.seq) return;
  const err = $('#s-error');
  if (!r.ok) {
    err.textContent = r.json.error;
    err.hidden = false;
    $('#s-results').replaceChildren();
    return;
  }
  err.hidden = true;
  const j = r.json;
  $('#s-embedder').textContent = `${j.embeddingModel}${j.semantic ? '' : ' (not semantic — matches words, for demos and tests)'} · ${j.method} over ${n(j.scanned)} chunks · ${ms(j.ms.embed + j.ms.search)}`;
  $('#s-results').replaceChildren(...(j.results.length ? j.results.map(hit)
    : [h('li', { class: 'hit-none', text: j.role ? `Nothing that the role “${j.role}” may see matches.` : 'Nothing matches.' })]));
}

function when(iso) {
  return h('time', { datetime: iso, title: exactTime(iso), text: relTime(iso) });
}

async function loadItems(first) {
  const s = insight.source;
  if (!s) return;
  const qs = new URLSearchParams({ sourceId: s.id, limit: String(ITEMS_PAGE) });
  if (!first && insight.after) qs.set('after', insight.after);
  const r = await api(`rest-items?${qs}`);
  const err = $('#i-error');
  if (!r.ok) {
    err.textContent = r.json.error;
    err.hidden = false;
    return;
  }
  err.hidden = true;
  if (first) $('#i-rows').replaceChildren();
  for (const it of r.json.items) {
    $('#i-rows').append(h('tr', {},
      h('td', {}, h('button', { type: 'button', class: 'btn btn-link item-open', data: { key: it.key } }, it.title || it.key),
        h('code', { class: 'pv-key', text: it.key })),
      h('td', { class: 'num', text: n(it.chunks) }),
      h('td', {}, when(it.firstSeenAt)), h('td', {}, when(it.lastSeenAt)), h('td', {}, when(it.changedAt))));
  }
  if (first && !r.json.items.length) $('#i-rows').append(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: 'No items yet: sync the source.' })));
  insight.after = r.json.next;
  $('#i-more').hidden = !r.json.next;
}

async function openItem(key) {
  const s = insight.source;
  const box = $('#i-chunks');
  const r = await api(`rest-items?${new URLSearchParams({ sourceId: s.id, key })}`);
  box.hidden = false;
  if (!r.ok) {
    box.replaceChildren(h('p', { class: 'form-error', text: r.json.error }));
    return;
  }
  const it = r.json.item;
  box.replaceChildren(
    h('h3', { text: it.title || it.key }),
    h('p', { class: 'muted' }, h('code', { text: it.key }), ` · ${plural(r.json.chunks.length, 'chunk', 'chunks')}`),
    h('ol', { class: 'chunk-list' }, r.json.chunks.map((c) => h('li', { class: 'chunk' },
      h('p', { class: 'muted', text: `${c.docTitle} #${c.chunkIndex} · ${c.embeddingModel || 'model not recorded'} · roles ${c.allowedRoles.join(', ')}` }),
      h('pre', { class: 'pv-text', text: c.content })))));
  box.scrollIntoView({ block: 'nearest' });
}

async function reembed(id) {
  const s = state.sources.get(id);
  if (!s) return;
  setBusy(id, { kind: 'reembed' });
  let total = 0;
  let r;
  for (;;) {
    r = await api('rest-reembed', { sourceId: id });
    if (!r.ok) break;
    total += r.json.chunks;
    if (r.json.left === 0 || r.json.chunks === 0) break;
  }
  setBusy(id, null);
  if (r.ok) toast('ok', `Re-embedded ${plural(total, 'chunk', 'chunks')} of “${s.title}”`, `Model ${r.json.model}: the source syncs again.`);
  else toast('error', `Could not re-embed “${s.title}”`, r.json.error);
  await refresh({ quiet: true });
}

async function showEmbedder() {
  const r = await api('health');
  const e = r.json && r.json.embedder;
  if (!e) return;
  const el = $('#embedder');
  // A wrong configuration (EMBEDDING_DIMENSIONS) fails every batch: said.
  el.textContent = `Embedder: ${e.model}${e.note ? ` — ${e.note}` : ''}${e.error ? ` — not working: ${e.error}` : ''}`;
  el.classList.toggle('embedder-local', !e.semantic || Boolean(e.error));
  el.hidden = false;
}

function initInsight() {
  $('#f-test').addEventListener('click', testSourceForm);
  $('#source-dialog').addEventListener('close', () => {
    $('#f-preview').hidden = true;
    $('#f-preview').replaceChildren();
  });
  $('#rows').addEventListener('click', (ev) => {
    const btn = ev.target.closest('button[data-action]');
    const id = btn?.closest('tr[data-id]')?.dataset.id;
    if (!btn || btn.disabled || !id) return;
    if (btn.dataset.action === 'insight-search') openInsight(id, 'search');
    else if (btn.dataset.action === 'insight-items') openInsight(id, 'items');
    else if (btn.dataset.action === 'reembed') reembed(id);
  });
  $('#insight-close').addEventListener('click', () => $('#insight-dialog').close());
  $('#tab-search').addEventListener('click', () => showTab('search'));
  $('#tab-items').addEventListener('click', () => {
    showTab('items');
    if (!$('#i-rows').children.length) loadItems(true);
  });
  $('#search-form').addEventListener('submit', runSearch);
  $('#i-more').addEventListener('click', () => loadItems(false));
  $('#i-rows').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.item-open');
    if (b) openItem(b.dataset.key);
  });
  showEmbedder();
}

initInsight();
