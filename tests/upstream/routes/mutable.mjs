// Upstream imitation whose items change between (and during) runs, for
// the item-identity tests (tests/integration/20_items.test.mjs).
//
// Datasets are named by ?ds=NAME; each is a list of items
// {id, title, body} (ids are numbers unless set otherwise).
//
// GET /mut/offset?ds=&skip=&limit=   {items, total, skip}     (offset)
//     &nototal=1 leaves total out; &delay=MS answers after MS;
//     &failAt=N answers 500 for the page at offset N
// GET /mut/cursor?ds=&cursor=&limit= {items, next}            (cursor)
// GET /mut/pages?ds=&page=&per_page= {items, total}           (page, 1-based)
// POST /mut/control {ds, op, ...}
//     op "set"     items: [...]            replace the list
//     op "seed"    n, prefix?              items 1..n: "<prefix> item i"
//     op "edit"    id, patch: {...}        change one item's fields
//     op "delete"  ids: [...]              remove items
//     op "add"     items: [...]            append items
//     op "after"   requests: n, then: {op...}  apply the op once the
//                  dataset has served n more page requests (a change
//                  in the middle of a run)
//     op "stats"   -> {requests, items}
// POST /mut/v1/embeddings  OpenAI-compatible (base64 or float), records
//     every input text; GET /mut/embedded returns them, POST
//     /mut/embedded-reset forgets them.
const sets = new Map();
let embedded = [];

function ds(name) {
  if (!sets.has(name)) sets.set(name, { items: [], requests: 0, pending: [] });
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

function apply(d, cmd) {
  switch (cmd.op) {
    case 'set': d.items = cmd.items.map((x) => ({ ...x })); break;
    case 'seed': {
      d.items = [];
      for (let i = 1; i <= cmd.n; i++) {
        d.items.push({ id: i, title: `${cmd.prefix || 'Item'} ${i}`, body: `The body text of ${cmd.prefix || 'item'} number ${i}.` });
      }
      break;
    }
    case 'edit': {
      const it = d.items.find((x) => x.id === cmd.id);
      if (!it) throw new Error(`no item ${cmd.id}`);
      Object.assign(it, cmd.patch);
      break;
    }
    case 'delete': d.items = d.items.filter((x) => !cmd.ids.includes(x.id)); break;
    case 'add': d.items.push(...cmd.items.map((x) => ({ ...x }))); break;
    case 'after': d.pending.push({ at: d.requests + cmd.requests, then: cmd.then }); break;
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

// Count a page request; apply what was scheduled for it first.
function served(d) {
  d.requests++;
  const due = d.pending.filter((p) => p.at < d.requests);
  d.pending = d.pending.filter((p) => p.at >= d.requests);
  for (const p of due) apply(d, p.then);
}

export function mockEmbedding(text) {
  const v = new Float32Array(1536);
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
  for (let i = 0; i < 1536; i++) { h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0; v[i] = (h / 4294967296) - 0.5; }
  let n = 0;
  for (let i = 0; i < 1536; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  for (let i = 0; i < 1536; i++) v[i] /= n;
  return v;
}

export const routes = {
  '/mut/offset'(q, res, req, ctx) {
    const d = ds(q.get('ds') || 'default');
    const skip = ctx.num(q.get('skip'), 0);
    const limit = ctx.num(q.get('limit'), 10);
    const delay = ctx.num(q.get('delay'), 0);
    if (Number.isNaN(skip) || Number.isNaN(limit) || Number.isNaN(delay)) return ctx.send(res, 400, { error: 'bad query' });
    // failAt=N: the page at offset N answers 500 (a failed page).
    if (q.get('failAt') !== null && Number(q.get('failAt')) === skip) return ctx.send(res, 500, { error: 'page refused' });
    setTimeout(() => {
      served(d);
      const body = { items: d.items.slice(skip, skip + limit), skip };
      if (!q.get('nototal')) body.total = d.items.length;
      ctx.send(res, 200, body);
    }, delay);
  },
  '/mut/cursor'(q, res, req, ctx) {
    const d = ds(q.get('ds') || 'default');
    served(d);
    const limit = ctx.num(q.get('limit'), 10);
    const cursor = q.get('cursor');
    // The cursor is the last id returned: stable under deletions.
    let start = 0;
    if (cursor) {
      const after = Number(cursor);
      start = d.items.findIndex((x) => x.id > after);
      if (start < 0) start = d.items.length;
    }
    const page = d.items.slice(start, start + limit);
    const more = start + limit < d.items.length;
    ctx.send(res, 200, { items: page, next: more ? String(page[page.length - 1].id) : null });
  },
  '/mut/pages'(q, res, req, ctx) {
    const d = ds(q.get('ds') || 'default');
    served(d);
    const pg = ctx.num(q.get('page'), 1);
    const per = ctx.num(q.get('per_page'), 10);
    if (Number.isNaN(pg) || pg < 1 || Number.isNaN(per)) return ctx.send(res, 400, { error: 'bad query' });
    ctx.send(res, 200, { items: d.items.slice((pg - 1) * per, pg * per), total: d.items.length });
  },
  async '/mut/control'(q, res, req, ctx) {
    try {
      const cmd = JSON.parse(await readBody(req));
      const d = ds(cmd.ds || 'default');
      if (cmd.op === 'stats') return ctx.send(res, 200, { requests: d.requests, items: d.items });
      apply(d, cmd);
      ctx.send(res, 200, { ok: true, items: d.items.length });
    } catch (e) {
      ctx.send(res, 400, { error: String(e.message || e) });
    }
  },
  async '/mut/v1/embeddings'(q, res, req, ctx) {
    const body = JSON.parse(await readBody(req));
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    embedded.push(...inputs);
    const data = inputs.map((t, index) => {
      const v = mockEmbedding(t);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    ctx.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
  },
  '/mut/embedded'(q, res, req, ctx) { ctx.send(res, 200, embedded); },
  '/mut/embedded-reset'(q, res, req, ctx) { embedded = []; ctx.send(res, 200, { ok: true }); },
};
