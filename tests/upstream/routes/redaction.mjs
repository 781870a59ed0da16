// Upstream imitations for tests/integration/28_redaction.test.mjs
// (prefix /redact/).  The key is whatever the request carried as a bearer
// token; these routes echo it where a careless system would copy it.
import { SEC_KEY } from './security.mjs';

function keyOf(req) {
  return (req.headers.authorization || '').replace(/^Bearer /, '');
}

export const routes = {
  // The path form of /redact/next (the key is SEC_KEY, percent-encoded).
  [`/redact/next/${encodeURIComponent(SEC_KEY)}`](q, res, req, ctx) {
    routes['/redact/next'](q, res, req, ctx);
  },
  // 401 whose body holds the key at byte ?at (raw, or ?enc=1 encoded):
  // it straddles the 200-byte cut of the error excerpt.
  '/redact/straddle'(q, res, req) {
    const k = q.get('enc') ? encodeURIComponent(keyOf(req)) : keyOf(req);
    res.writeHead(401, { 'Content-Type': 'text/plain' });
    res.end('x'.repeat(Number(q.get('at'))) + k + 'y'.repeat(300));
  },
  // A page whose next link carries the key: ?where=query (under another
  // name than queryTemplate's, in another case) or path.
  '/redact/next'(q, res, req, ctx) {
    const key = keyOf(req);
    const page = Number(q.get('page') || 1);
    if (key.length === 0 || (req.url.includes('%7B%7BAPI_KEY') || req.url.includes('{{API_KEY'))) {
      return ctx.send(res, 400, { message: 'placeholder sent' });
    }
    const base = `http://${req.headers.host}`;
    const enc = encodeURIComponent(key);
    let next = null;
    if (page < 3) {
      next = {
        query: `${base}/redact/next?where=query&page=${page + 1}&API_KEY=${enc}&Sig=${enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`,
        path: `${base}/redact/next/${enc}?page=${page + 1}&where=path`,
      }[q.get('where')];
    }
    ctx.send(res, 200, { items: ctx.products.slice(page * 5, page * 5 + 5), next });
  },
};
