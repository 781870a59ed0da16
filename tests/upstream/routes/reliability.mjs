// Upstream and embeddings imitations for the reliability tests (/rel/).
import crypto from 'node:crypto';

const state = { embedMode: 'ok', embedCalls: 0, embedFailLeft: 0, notModified: 0, conditionalSeen: 0 };

function page(q, res, ctx, headers = {}) {
  const skip = ctx.num(q.get('skip'), 0);
  let limit = ctx.num(q.get('limit'), 30);
  if (limit === 0 || limit > ctx.products.length) limit = ctx.products.length;
  const items = ctx.products.slice(skip, skip + limit);
  ctx.send(res, 200, { products: items, total: ctx.products.length, skip, limit: items.length }, headers);
}

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

// Deterministic unit vector for a text (what the mock "model" returns).
export function mockEmbedding(text) {
  const v = new Float32Array(1536);
  let seed = crypto.createHash('sha256').update(text).digest();
  for (let i = 0; i < 1536; i += 8) {
    seed = crypto.createHash('sha256').update(seed).digest();
    for (let j = 0; j < 8; j++) v[i + j] = seed.readInt32LE(j * 4) / 2 ** 31;
  }
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

export const routes = {
  // 503 on the first call per key, then the DummyJSON page.
  '/rel/flaky'(q, res, req, ctx) {
    const k = 'flaky:' + q.get('key');
    ctx.counters[k] = (ctx.counters[k] || 0) + 1;
    if (ctx.counters[k] === 1) return ctx.send(res, 503, { error: 'busy' });
    page(q, res, ctx);
  },
  // 429 with Retry-After (seconds, or an HTTP date with date=1) once per key.
  '/rel/ratelimit'(q, res, req, ctx) {
    const k = 'rl:' + q.get('key');
    ctx.counters[k] = (ctx.counters[k] || 0) + 1;
    if (ctx.counters[k] === 1) {
      const ra = q.get('date') === '1' ? new Date(Date.now() + 2000).toUTCString() : '1';
      return ctx.send(res, 429, { error: 'slow down' }, { 'Retry-After': ra });
    }
    page(q, res, ctx);
  },
  // Always 503, asking for 30 s: beyond the batch deadline.
  '/rel/always503'(q, res, req, ctx) {
    ctx.send(res, 503, { error: 'down' }, { 'Retry-After': '30' });
  },
  // The DummyJSON page after a delay (ms).
  '/rel/slow'(q, res, req, ctx) {
    setTimeout(() => page(q, res, ctx), ctx.num(q.get('ms'), 1000));
  },
  // DummyJSON with validators; 304 when If-None-Match / If-Modified-Since match.
  '/rel/cond/products'(q, res, req, ctx) {
    const body = JSON.stringify({ skip: q.get('skip'), limit: q.get('limit') });
    const etag = '"' + crypto.createHash('sha1').update(body).digest('hex') + '"';
    const lm = 'Wed, 21 Oct 2015 07:28:00 GMT';
    if (req.headers['if-none-match'] || req.headers['if-modified-since']) state.conditionalSeen++;
    if (req.headers['if-none-match'] === etag || (q.get('lm') === '1' && req.headers['if-modified-since'] === lm)) {
      state.notModified++;
      res.writeHead(304, { ETag: etag });
      return res.end();
    }
    page(q, res, ctx, q.get('lm') === '1' ? { 'Last-Modified': lm } : { ETag: etag });
  },
  // DummyJSON page behind a UTF-8 byte order mark and a trailing newline.
  '/rel/bom'(q, res, req, ctx) {
    const skip = ctx.num(q.get('skip'), 0);
    const items = ctx.products.slice(skip, skip + 50);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end('\ufeff' + JSON.stringify({ products: items, total: ctx.products.length, skip, limit: items.length }) + '\n');
  },
  // 401 that echoes the Authorization header it got (as careless APIs do).
  '/rel/echo-auth'(q, res, req, ctx) {
    ctx.send(res, 401, { error: `bad credentials: ${req.headers.authorization}` });
  },
  // Offset API without a total: {items}; ends on a short page.
  '/rel/nototal'(q, res, req, ctx) {
    const skip = ctx.num(q.get('offset'), 0);
    const limit = ctx.num(q.get('limit'), 30);
    ctx.send(res, 200, { items: ctx.products.slice(skip, skip + limit) });
  },
  // Cursor API that hands back the same cursor forever.
  '/rel/cursorloop'(q, res, req, ctx) {
    ctx.send(res, 200, { data: ctx.products.slice(0, 5), next: 'same' });
  },
  // Cursor API that says has_more: false but still gives a cursor.
  '/rel/hasmore'(q, res, req, ctx) {
    const c = ctx.num(q.get('cursor'), 0);
    ctx.send(res, 200, { data: ctx.products.slice(c, c + 10), next: String(c + 10), has_more: c + 10 < 30 });
  },
  // 100 items of 64 KiB each (distinct text).
  '/rel/huge'(q, res, req, ctx) {
    const items = [];
    for (let i = 0; i < 100; i++) {
      const words = [];
      let n = 0;
      while (n < 65536) {
        const w = `word${i}x${words.length} `;
        words.push(w);
        n += w.length;
      }
      items.push({ id: i, title: `Huge ${i}`, description: words.join('') });
    }
    ctx.send(res, 200, { products: items, total: 100, skip: 0, limit: 100 });
  },
  // A Link header of ~40 KiB (many links, next among them at the end).
  '/rel/biglink'(q, res, req, ctx) {
    const links = [];
    for (let i = 0; i < 600; i++) links.push(`<http://${req.headers.host}/rel/biglink?filler=${i}&pad=${'x'.repeat(40)}>; rel="related"`);
    links.push(`<http://${req.headers.host}/rel/biglink?page=2>; rel="next"`);
    ctx.send(res, 200, ctx.products.slice(0, 5), { Link: links.join(', ') });
  },
  // OpenAI-compatible embeddings with switchable faults.
  async '/rel/v1/embeddings'(q, res, req, ctx) {
    const body = JSON.parse(await readBody(req));
    state.embedCalls++;
    const mode = state.embedMode;
    if (mode === '500') return ctx.send(res, 500, { error: { message: 'The server had an error' } });
    if (mode === '401') return ctx.send(res, 401, { error: { message: `Incorrect API key provided: ${req.headers.authorization?.slice(7)}` } });
    if ((mode === '429once' || mode === '503once') && state.embedFailLeft > 0) {
      state.embedFailLeft--;
      return ctx.send(res, mode === '429once' ? 429 : 503, { error: { message: 'rate limited' } }, { 'Retry-After': '1' });
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const data = inputs.map((t, index) => {
      const v = mockEmbedding(t);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    // Answer out of order, as the API may.
    data.reverse();
    ctx.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
  },
  async '/rel/embed-mode'(q, res, req, ctx) {
    const body = JSON.parse(await readBody(req));
    state.embedMode = body.mode;
    state.embedFailLeft = body.fails || 0;
    ctx.send(res, 200, { ok: true });
  },
  '/rel/stats'(q, res, req, ctx) {
    ctx.send(res, 200, state);
  },
  '/rel/stats-reset'(q, res, req, ctx) {
    Object.assign(state, { embedCalls: 0, notModified: 0, conditionalSeen: 0 });
    ctx.send(res, 200, state);
  },
};
