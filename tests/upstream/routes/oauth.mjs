// Upstream imitations for issue 17 (OAuth2 client credentials, prefix
// /oauth/; the shared rate budget, prefix /rate/).
//
// POST /oauth/token[?ttl=MS][&echo=1]
//   RFC 6749 §4.4: client authentication by HTTP Basic (each part
//   form-encoded), body grant_type=client_credentials[&scope][&audience].
//   The client is OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET; a wrong one gets
//   401 {"error":"invalid_client","error_description":...} (with echo=1 a
//   careless server's description that repeats the secret it was sent).
//   Issues a fresh random token valid for ttl ms (2000), expires_in in
//   seconds.  Every request is noted (time, the client id, the body, the
//   token issued).
// GET /oauth/items?page=N&per_page=M
//   A 1-based page API over the DummyJSON products ({"data":{"items"}}),
//   answered only with "Authorization: Bearer <a token issued and not
//   expired or revoked>", else 401 {"error":"invalid_token"}.  Noted with
//   the token and the status.
// POST /oauth/revoke     revoke every token issued so far.
// GET  /oauth/stats      {tokenRequests: [...], apiRequests: [...],
//                         issued: [token, ...]}
// POST /oauth/reset      forget everything.
//
// GET /rate/items?src=KEY&page=N&per_page=M
//   The same page API without auth; every request is noted with its
//   arrival time (ms) and source key.
// GET /rate/log          the notes [{src, page, t}]
// POST /rate/reset       forget them.
import crypto from 'node:crypto';

export const OAUTH_CLIENT_ID = 'rs-client-17';
export const OAUTH_CLIENT_SECRET = 'rs-client-secret-17-Zq9xW';

let tokens = new Map();	// token -> {exp, revoked}
let tokenRequests = [];
let apiRequests = [];
let rateNotes = [];

function formDecode(s) {
  return decodeURIComponent(String(s).replace(/\+/g, ' '));
}

function readBody(req) {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => resolve(b));
  });
}

function page(q, ctx) {
  const pg = ctx.num(q.get('page'), 1);
  const per = ctx.num(q.get('per_page'), 20);
  if (Number.isNaN(pg) || Number.isNaN(per) || pg < 1 || per < 1) return null;
  return { data: { items: ctx.products.slice((pg - 1) * per, pg * per) } };
}

export const routes = {
  async '/oauth/token'(q, res, req, ctx) {
    const body = await readBody(req);
    const note = { t: Date.now(), method: req.method, contentType: req.headers['content-type'] || '',
      body, clientId: null, ok: false, token: null };
    tokenRequests.push(note);
    if (req.method !== 'POST') return ctx.send(res, 405, { error: 'invalid_request' });
    const form = new URLSearchParams(body);
    const m = /^Basic (.+)$/.exec(req.headers.authorization || '');
    let id = null;
    let secret = null;
    if (m) {
      const plain = Buffer.from(m[1], 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) {
        id = formDecode(plain.slice(0, i));
        secret = formDecode(plain.slice(i + 1));
      }
    }
    note.clientId = id;
    if (form.get('grant_type') !== 'client_credentials') {
      return ctx.send(res, 400, { error: 'unsupported_grant_type' });
    }
    if (id !== OAUTH_CLIENT_ID || secret !== OAUTH_CLIENT_SECRET) {
      const description = q.get('echo') ? `client secret ${secret} is not valid` : 'Client authentication failed';
      return ctx.send(res, 401, { error: 'invalid_client', error_description: description },
        { 'WWW-Authenticate': 'Basic realm="token"' });
    }
    const ttl = ctx.num(q.get('ttl'), 2000);
    const token = `tok-${crypto.randomBytes(12).toString('hex')}`;
    tokens.set(token, { exp: Date.now() + ttl, revoked: false });
    note.ok = true;
    note.token = token;
    ctx.send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ttl / 1000,
      scope: form.get('scope') || undefined });
  },
  '/oauth/items'(q, res, req, ctx) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    const token = m ? m[1] : null;
    const t = token && tokens.get(token);
    const note = { t: Date.now(), page: ctx.num(q.get('page'), 1), token, status: 200 };
    apiRequests.push(note);
    if (!t || t.revoked || t.exp <= Date.now()) {
      note.status = 401;
      return ctx.send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    const p = page(q, ctx);
    if (!p) { note.status = 400; return ctx.send(res, 400, { error: 'bad query' }); }
    ctx.send(res, 200, p);
  },
  '/oauth/revoke'(q, res, req, ctx) {
    for (const t of tokens.values()) t.revoked = true;
    ctx.send(res, 200, { ok: true });
  },
  '/oauth/stats'(q, res, req, ctx) {
    ctx.send(res, 200, { tokenRequests, apiRequests, issued: [...tokens.keys()] });
  },
  '/oauth/reset'(q, res, req, ctx) {
    tokens = new Map();
    tokenRequests = [];
    apiRequests = [];
    ctx.send(res, 200, { ok: true });
  },
  '/rate/items'(q, res, req, ctx) {
    rateNotes.push({ src: q.get('src') || 'x', page: ctx.num(q.get('page'), 1), t: Date.now() });
    const p = page(q, ctx);
    if (!p) return ctx.send(res, 400, { error: 'bad query' });
    ctx.send(res, 200, p);
  },
  '/rate/log'(q, res, req, ctx) { ctx.send(res, 200, rateNotes); },
  '/rate/reset'(q, res, req, ctx) { rateNotes = []; ctx.send(res, 200, { ok: true }); },
};
