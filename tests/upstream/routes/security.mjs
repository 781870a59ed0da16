// Upstream imitations for tests/integration/16_security.test.mjs (prefix
// /sec/).  They check credentials, echo them back where a careless system
// would copy them into its logs, redirect and link to another origin, and
// serve oversized, deeply nested and non-UTF-8 bodies.
//
// The key the tests store encrypted for their tenant.  It holds characters
// that URL encoding changes ('/', '+', '='), so both its raw and its encoded
// forms must be redacted; the "sk_live_S3cr3tSEC" core survives any
// encoding, which is what the tests grep for.
export const SEC_KEY = 'sk_live_S3cr3tSEC/9f+Qz=41';
export const SEC_CORE = 'sk_live_S3cr3tSEC';

function page(q, ctx) {
  const skip = ctx.num(q.get('skip'), 0);
  const limit = ctx.num(q.get('limit'), 30);
  const items = ctx.products.slice(skip, skip + limit);
  return { products: items, total: ctx.products.length, skip, limit: items.length };
}

function authorized(q, req) {
  return req.headers.authorization === `Bearer ${SEC_KEY}` && q.get('api_key') === SEC_KEY;
}

// The origin the tests treat as "another site": same server, other host
// name, so its requests show up in the same /__log.
function otherOrigin(req) {
  const port = (req.headers.host || '').split(':')[1];
  return `http://localhost:${port}`;
}

export const routes = {
  // DummyJSON page behind both a bearer header and an api_key query
  // parameter; 401 otherwise.
  '/sec/auth/products'(q, res, req, ctx) {
    if (!authorized(q, req)) return ctx.send(res, 401, { message: 'bad credentials' });
    ctx.send(res, 200, page(q, ctx));
  },
  // Always 401, echoing the credentials it received (as some APIs do):
  // whatever ends up in last_error must not carry them.
  '/sec/echo401'(q, res, req, ctx) {
    ctx.send(res, 401, {
      error: `invalid key ${q.get('api_key')} / ${req.headers.authorization}`,
      query: q.toString(),
    });
  },
  // A cursor API whose next link repeats the api_key query parameter
  // (same origin): the echoed next must not show it.
  '/sec/keyed-next'(q, res, req, ctx) {
    if (!authorized(q, req)) return ctx.send(res, 401, { message: 'bad credentials' });
    const after = ctx.num(q.get('after'), 0);
    const items = ctx.products.slice(after, after + 10);
    const next = after + 10 < 30
      ? `http://${req.headers.host}/sec/keyed-next?after=${after + 10}&api_key=${encodeURIComponent(q.get('api_key'))}`
      : null;
    ctx.send(res, 200, { items, next });
  },
  // A redirect to another origin: must never be followed.
  '/sec/redirect-away'(q, res, req) {
    res.writeHead(302, { Location: `${otherOrigin(req)}/sec/steal?${q.toString()}` });
    res.end();
  },
  // First page fine, next link on another origin: must never be fetched.
  '/sec/next-away'(q, res, req, ctx) {
    ctx.send(res, 200, {
      items: ctx.products.slice(0, 5),
      next: `${otherOrigin(req)}/sec/steal?page=2`,
    });
  },
  // Where stolen requests would land (the /__log shows any).
  '/sec/steal'(q, res, req, ctx) {
    ctx.send(res, 200, { items: ctx.products.slice(0, 5), next: null });
  },
  // 2 KiB of valid JSON, for a source capped at 1 KiB.
  '/sec/big'(q, res, req, ctx) {
    ctx.send(res, 200, { products: [{ title: 'x'.repeat(2048) }], total: 1 });
  },
  // Arrays nested 65 deep (the batch caps JSON nesting at 64).
  '/sec/deep'(q, res, req, ctx) {
    ctx.send(res, 200, `{"products":[${'['.repeat(63)}${']'.repeat(63)}],"total":1}`);
  },
  // Nested 63 deep in total: within the cap.
  '/sec/shallow'(q, res, req, ctx) {
    ctx.send(res, 200, `{"products":[{"title":"shallow","x":${'['.repeat(60)}${']'.repeat(60)}}],"total":1}`);
  },
  // Item text with invalid UTF-8: a lone continuation byte, a truncated
  // sequence, an overlong '/', a UTF-16 surrogate, 0xFF, and a sequence
  // cut at the end of the string; plus valid multibyte text around them.
  '/sec/badutf8'(q, res) {
    const parts = [
      Buffer.from('{"products":[{"id":1,"title":"Caf\u00e9 ', 'utf8'),
      Buffer.from([0x80]),
      Buffer.from(' ok","description":"a', 'utf8'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(' b', 'utf8'),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from(' c', 'utf8'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(' d', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from(' \u65e5\u672c ', 'utf8'),
      Buffer.from([0xe2, 0x82]),
      Buffer.from('"}],"total":1}', 'utf8'),
    ];
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(Buffer.concat(parts));
  },
  // Escaped oddities: a lone surrogate and a NUL, both as JSON escapes.
  '/sec/escapes'(q, res, req, ctx) {
    ctx.send(res, 200, '{"products":[{"id":2,"title":"lone \\ud800 surrogate","description":"nul \\u0000 inside"}],"total":1}');
  },
};
