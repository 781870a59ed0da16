// Upstream imitations for the chaos soak (tests/soak/soak.mjs): datasets
// whose items change while they are read, served in four paging styles,
// with faults switchable at run time, and an OpenAI-compatible
// embeddings service that can fail too.
//
// Items are {id, title, body}; datasets are named by ?ds=.
// GET /soak/offset?ds=&skip=&limit=        {items, total, skip}
// GET /soak/cursor?ds=&cursor=&limit=      {items, next}   (cursor = last id)
// GET /soak/pages?ds=&page=&per_page=      {items, total}  (1-based)
// GET /soak/link?ds=&page=&per_page=       top-level array, Link rel="next";
//     needs "Authorization: Bearer <SOAK_TOKEN>" (401 otherwise)
// POST /soak/control {ds, op, ...}
//     op "seed"   n                 items 1..n, version 1
//     op "churn"  r: [numbers], edits, deletes, adds, shared
//                 edits/deletes pick items[r % length]; adds append new
//                 ids; shared edits give an item one of three common
//                 texts (two items holding one content hash)
//     op "after"  requests, then: {op...}   once, after n more pages
//     op "fault"  kind: none|503|429|slow|malformed, every: n
//                 every n-th page request of the dataset answers the
//                 fault (503/429 with Retry-After: 1; slow = 1.5 s late;
//                 malformed = a cut JSON body)
//     op "calm"   clears pending "after" ops and the fault
//     op "stats"  -> {requests, faults, items}
// POST /soak/embed-fault {kind: none|500|429, every: n}
// POST /soak/v1/embeddings  OpenAI-compatible; needs the soak's key
// GET  /soak/embed-stats    {requests, faults, inputs}
export const SOAK_TOKEN = 'soak-upstream-token-3f9c1a7be2d04c65';
export const SOAK_EMBED_KEY = 'sk-soak-embed-key-71d2c9aa04be5f3e';

const sets = new Map();
const embed = { kind: 'none', every: 1, requests: 0, faults: 0, inputs: 0 };

function ds(name) {
  if (!sets.has(name)) {
    sets.set(name, { items: [], requests: 0, faults: 0, pending: [], nextId: 1, fault: { kind: 'none', every: 1 } });
  }
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

const text = (id, v) => `Soak item ${id} at version ${v}, with some words to chunk.`;

function apply(d, cmd) {
  switch (cmd.op) {
    case 'seed':
      d.items = [];
      for (let i = 1; i <= cmd.n; i++) d.items.push({ id: i, title: `Item ${i}`, body: text(i, 1), v: 1 });
      d.nextId = cmd.n + 1;
      break;
    case 'churn': {
      const r = [...cmd.r];
      const pick = () => r.shift() ?? 0;
      for (let k = 0; k < (cmd.edits || 0) && d.items.length; k++) {
        const it = d.items[pick() % d.items.length];
        it.v++;
        it.title = `Item ${it.id}`;
        it.body = text(it.id, it.v);
      }
      for (let k = 0; k < (cmd.shared || 0) && d.items.length; k++) {
        const it = d.items[pick() % d.items.length];
        const c = pick() % 3;
        it.title = 'Common';
        it.body = `A common text number ${c}, held by several items.`;
      }
      for (let k = 0; k < (cmd.deletes || 0) && d.items.length > 1; k++) d.items.splice(pick() % d.items.length, 1);
      for (let k = 0; k < (cmd.adds || 0); k++) {
        const id = d.nextId++;
        d.items.push({ id, title: `Item ${id}`, body: text(id, 1), v: 1 });
      }
      break;
    }
    case 'after': d.pending.push({ at: d.requests + cmd.requests, then: cmd.then }); break;
    case 'fault': d.fault = { kind: cmd.kind, every: Math.max(1, cmd.every || 1) }; break;
    case 'calm': d.pending = []; d.fault = { kind: 'none', every: 1 }; break;
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

const view = (d) => d.items.map(({ id, title, body }) => ({ id, title, body }));

// Count a page request, apply what was scheduled for it; true when this
// request answers the dataset's fault (res is then answered).
function served(d, res, ctx) {
  d.requests++;
  const due = d.pending.filter((p) => p.at < d.requests);
  d.pending = d.pending.filter((p) => p.at >= d.requests);
  for (const p of due) apply(d, p.then);
  const f = d.fault;
  if (f.kind === 'none' || f.kind === 'slow' || d.requests % f.every !== 0) return false;
  d.faults++;
  if (f.kind === '503') ctx.send(res, 503, { error: 'maintenance' }, { 'Retry-After': '1' });
  else if (f.kind === '429') ctx.send(res, 429, { error: 'slow down' }, { 'Retry-After': '1' });
  else if (f.kind === 'malformed') ctx.send(res, 200, '{"items": [{"id": 1, "title": "cut');
  return true;
}

// A slow answer: the fault's every n-th request waits 1.5 s.
function later(d, fn) {
  if (d.fault.kind === 'slow' && d.requests % d.fault.every === 0) {
    d.faults++;
    setTimeout(fn, 1500);
  } else {
    fn();
  }
}

function mockEmbedding(t) {
  const v = new Float32Array(1536);
  let h = 2166136261;
  for (let i = 0; i < t.length; i++) { h ^= t.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
  for (let i = 0; i < 1536; i++) { h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0; v[i] = (h / 4294967296) - 0.5; }
  let n = 0;
  for (let i = 0; i < 1536; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  for (let i = 0; i < 1536; i++) v[i] /= n;
  return v;
}

export const routes = {
  '/soak/offset'(q, res, req, ctx) {
    const d = ds(q.get('ds'));
    const skip = ctx.num(q.get('skip'), 0);
    const limit = ctx.num(q.get('limit'), 10);
    if (Number.isNaN(skip) || Number.isNaN(limit)) return ctx.send(res, 400, { error: 'bad query' });
    if (served(d, res, ctx)) return undefined;
    const body = { items: view(d).slice(skip, skip + limit), total: d.items.length, skip };
    return later(d, () => ctx.send(res, 200, body));
  },
  '/soak/cursor'(q, res, req, ctx) {
    const d = ds(q.get('ds'));
    const limit = ctx.num(q.get('limit'), 10);
    if (Number.isNaN(limit)) return ctx.send(res, 400, { error: 'bad query' });
    if (served(d, res, ctx)) return undefined;
    const cursor = q.get('cursor');
    let start = 0;
    if (cursor) {
      start = d.items.findIndex((x) => x.id > Number(cursor));
      if (start < 0) start = d.items.length;
    }
    const page = view(d).slice(start, start + limit);
    const more = start + limit < d.items.length;
    const body = { items: page, next: more ? String(page[page.length - 1].id) : null };
    return later(d, () => ctx.send(res, 200, body));
  },
  '/soak/pages'(q, res, req, ctx) {
    const d = ds(q.get('ds'));
    const pg = ctx.num(q.get('page'), 1);
    const per = ctx.num(q.get('per_page'), 10);
    if (Number.isNaN(pg) || pg < 1 || Number.isNaN(per) || per < 1) return ctx.send(res, 400, { error: 'bad query' });
    if (served(d, res, ctx)) return undefined;
    const body = { items: view(d).slice((pg - 1) * per, pg * per), total: d.items.length };
    return later(d, () => ctx.send(res, 200, body));
  },
  '/soak/link'(q, res, req, ctx) {
    if (req.headers.authorization !== `Bearer ${SOAK_TOKEN}`) return ctx.send(res, 401, { message: 'Bad credentials' });
    const d = ds(q.get('ds'));
    const pg = ctx.num(q.get('page'), 1);
    const per = ctx.num(q.get('per_page'), 10);
    if (Number.isNaN(pg) || pg < 1 || Number.isNaN(per) || per < 1) return ctx.send(res, 422, { message: 'Validation Failed' });
    if (served(d, res, ctx)) return undefined;
    const page = view(d).slice((pg - 1) * per, pg * per);
    const headers = {};
    if (pg * per < d.items.length) {
      const u = new URLSearchParams(q);
      u.set('page', String(pg + 1));
      u.set('per_page', String(per));
      headers.Link = `<http://${req.headers.host}/soak/link?${u}>; rel="next"`;
    }
    return later(d, () => ctx.send(res, 200, page, headers));
  },
  async '/soak/control'(q, res, req, ctx) {
    try {
      const cmd = JSON.parse(await readBody(req));
      const d = ds(cmd.ds);
      if (cmd.op === 'stats') return ctx.send(res, 200, { requests: d.requests, faults: d.faults, items: view(d) });
      apply(d, cmd);
      return ctx.send(res, 200, { ok: true, items: d.items.length });
    } catch (e) {
      return ctx.send(res, 400, { error: String(e.message || e) });
    }
  },
  async '/soak/embed-fault'(q, res, req, ctx) {
    const cmd = JSON.parse(await readBody(req));
    embed.kind = cmd.kind;
    embed.every = Math.max(1, cmd.every || 1);
    ctx.send(res, 200, { ok: true });
  },
  '/soak/embed-stats'(q, res, req, ctx) {
    ctx.send(res, 200, { requests: embed.requests, faults: embed.faults, inputs: embed.inputs });
  },
  async '/soak/v1/embeddings'(q, res, req, ctx) {
    const body = JSON.parse(await readBody(req));
    embed.requests++;
    if (req.headers.authorization !== `Bearer ${SOAK_EMBED_KEY}`) return ctx.send(res, 401, { error: { message: 'bad key' } });
    if (embed.kind !== 'none' && embed.requests % embed.every === 0) {
      embed.faults++;
      if (embed.kind === '429') return ctx.send(res, 429, { error: { message: 'rate limited' } }, { 'Retry-After': '1' });
      return ctx.send(res, 500, { error: { message: 'the model is overloaded' } });
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    embed.inputs += inputs.length;
    const data = inputs.map((t, index) => {
      const v = mockEmbedding(t);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    return ctx.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
  },
};
