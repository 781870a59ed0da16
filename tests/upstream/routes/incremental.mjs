// Upstream imitations for incremental syncs and POST-body paging
// (tests/integration/30_incremental.test.mjs, 31_post_body.test.mjs).
//
// Datasets are named by ?ds=NAME (GET) or "ds" in the query (POST); each
// is a list of items {id, title, body, updated_at} kept in id order.
//
// GET  /incr/items?ds=&skip=&limit=&updated_since=   {items, total}
//      offset paging; with updated_since only the items whose updated_at
//      is at or after it (compared as times); total counts those
// POST /incr/notion/query?ds=   Notion's databases/query: the JSON body
//      {start_cursor: string|null|absent, page_size: number, auth: key}
//      -> {object: "list", results, next_cursor, has_more}.  415 unless
//      Content-Type is application/json; 400 when page_size is not a
//      number or start_cursor not a string or null, or page_size is over
//      100 (the answer echoes the request body); 401 unless auth is
//      "notion-key-7f3a9c".  An ETag per page (its results); a request
//      with that If-None-Match gets 304.  Notion's timestamp filter
//      {filter: {timestamp: "last_edited_time", last_edited_time:
//      {on_or_after: time}}} keeps the items whose updated_at is at or
//      after it (400 unless it is a time string, as Notion answers).
// POST /incr/control {ds, op, ...}
//      op "seed"   n: items 1..n, updated_at 2026-01-01T00:0i:00Z
//      op "edit"   id, patch          op "delete" ids     op "add" items
//      op "log"    -> the dataset's requests: [{method, query, body}]
//      op "fail"   n: the next n POST queries answer 503 (retried)
//      op "forget" clears that log
const sets = new Map();
const NOTION_KEY = 'notion-key-7f3a9c';

function ds(name) {
  if (!sets.has(name)) sets.set(name, { items: [], log: [] });
  return sets.get(name);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
}

function minute(i) {
  return new Date(Date.UTC(2026, 0, 1, 0, i, 0)).toISOString().replace('.000Z', 'Z');
}

function apply(d, cmd) {
  switch (cmd.op) {
    case 'seed':
      d.items = [];
      for (let i = 1; i <= cmd.n; i++) {
        d.items.push({ id: i, title: `Record ${i}`, body: `The text of record number ${i}.`, updated_at: minute(i) });
      }
      return { ok: true };
    case 'edit': {
      const it = d.items.find((x) => x.id === cmd.id);
      if (!it) throw new Error(`no item ${cmd.id}`);
      Object.assign(it, cmd.patch);
      return { ok: true };
    }
    case 'delete': d.items = d.items.filter((x) => !cmd.ids.includes(x.id)); return { ok: true };
    case 'add': d.items.push(...cmd.items.map((x) => ({ ...x }))); d.items.sort((a, b) => a.id - b.id); return { ok: true };
    case 'log': return d.log;
    case 'forget': d.log = []; return { ok: true };
    case 'fail': d.fail = cmd.n; return { ok: true };
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

function etagOf(results) {
  let h = 2166136261;
  const s = JSON.stringify(results);
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
  return `"n${h.toString(16)}"`;
}

export const routes = {
  async '/incr/control'(q, res, req, { send }) {
    let cmd;
    try { cmd = JSON.parse(await readBody(req)); } catch { return send(res, 400, { error: 'bad json' }); }
    try { return send(res, 200, apply(ds(cmd.ds), cmd)); } catch (e) { return send(res, 400, { error: e.message }); }
  },
  '/incr/items'(q, res, req, { send, num }) {
    const d = ds(q.get('ds'));
    d.log.push({ method: req.method, query: Object.fromEntries(q), body: null });
    const skip = num(q.get('skip'), 0);
    const limit = num(q.get('limit'), 10);
    if (Number.isNaN(skip) || Number.isNaN(limit)) return send(res, 400, { error: 'bad skip/limit' });
    const since = q.get('updated_since');
    if (since !== null && Number.isNaN(Date.parse(since))) return send(res, 400, { error: 'updated_since is not a time' });
    const all = since === null ? d.items : d.items.filter((x) => Date.parse(x.updated_at) >= Date.parse(since));
    send(res, 200, { items: all.slice(skip, skip + limit), total: all.length });
  },
  async '/incr/notion/query'(q, res, req, { send }) {
    const d = ds(q.get('ds'));
    const text = await readBody(req);
    let body = null;
    try { body = JSON.parse(text); } catch { /* logged as null */ }
    d.log.push({ method: req.method, query: Object.fromEntries(q), body, contentType: req.headers['content-type'] || null,
      inm: req.headers['if-none-match'] || null });
    if (req.method !== 'POST') return send(res, 405, { message: 'POST only' });
    if (d.fail > 0) { d.fail--; return send(res, 503, { message: 'try again' }); }
    if (req.headers['content-type'] !== 'application/json') return send(res, 415, { message: 'Content-Type must be application/json' });
    if (!body || typeof body !== 'object') return send(res, 400, { message: 'body must be a JSON object' });
    if (body.auth !== NOTION_KEY) return send(res, 401, { message: 'API token is invalid.' });
    if (typeof body.page_size !== 'number') return send(res, 400, { message: 'body.page_size should be a number' });
    // A request the API refuses, echoing it (as some do): the key must not
    // reach last_error.
    if (body.page_size > 100) return send(res, 400, { message: 'page_size must be at most 100', request: body });
    const sc = body.start_cursor;
    if (sc !== undefined && sc !== null && typeof sc !== 'string') return send(res, 400, { message: 'body.start_cursor should be a string' });
    let items = d.items;
    const f = body.filter;
    if (f && f.timestamp === 'last_edited_time') {
      const after = f.last_edited_time && f.last_edited_time.on_or_after;
      if (typeof after !== 'string' || Number.isNaN(Date.parse(after))) {
        return send(res, 400, { message: 'body.filter.last_edited_time.on_or_after should be a valid ISO 8601 date string' });
      }
      items = items.filter((x) => Date.parse(x.updated_at) >= Date.parse(after));
    }
    const start = sc ? items.findIndex((x) => `c-${x.id}` === sc) : 0;
    if (start < 0) return send(res, 400, { message: 'start_cursor is invalid' });
    const results = items.slice(start, start + body.page_size);
    const nxt = items[start + body.page_size];
    const etag = etagOf(results);
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag });
      return res.end();
    }
    send(res, 200, { object: 'list', results, next_cursor: nxt ? `c-${nxt.id}` : null, has_more: !!nxt }, { ETag: etag });
  },
};
