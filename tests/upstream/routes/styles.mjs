// Imitations of the APIs operators connect (issue 6), under /styles/.
// Each keeps the real API's response shape, paging parameters, stop
// behaviour, auth header and auth failure body.  Data comes from the
// DummyJSON catalogue (ctx.products) so texts are realistic and unique.
//
//   /styles/github/...        GitHub REST issues: top-level array, Link
//                             header (next/last/first/prev, absolute URLs
//                             on /repositories/<id>/...), Bearer token
//   /styles/links/items       Link header split over two header lines,
//                             relative URLs, unquoted and multi-value rel
//   /styles/links/away        a Link rel=next on another origin
//   /styles/notion/...        Notion database query: results, next_cursor,
//                             has_more; Bearer + Notion-Version header
//   /styles/zero/items        0-based pages, {data: {items, totalPages}}
//   /styles/one/items         1-based pages, {data: {items, total_pages}}
//   /styles/stripe/v1/customers  Stripe list: {object, data, has_more, url},
//                             starting_after; Bearer or Basic secret key
//   /styles/hubspot/...       HubSpot legacy companies: hapikey in the
//                             query, offset + has-more
//   /styles/zendesk/...       Zendesk cursor paging: page[size],
//                             page[after], meta.has_more/after_cursor;
//                             Basic "email/token:api_token"

export const GITHUB_TOKEN = 'ghp_styles0Token0123456789abcdefABCDEF';
export const NOTION_TOKEN = 'secret_stylesNotion0123456789';
export const STRIPE_KEY = 'sk_test_51Styles0123456789abcdef';
export const HUBSPOT_KEY = 'a1b2c3d4-hub+key/=&1';
export const ZENDESK_USER = 'agent@example.com/token';
export const ZENDESK_TOKEN = 'zd-Api-Token-0123456789';

export const COUNTS = { github: 45, links: 60, notion: 50, zero: 60, one: 75, stripe: 30, hubspot: 40, zendesk: 35 };

// Deterministic ids in each API's own spelling.
function uuid(n) {
  const h = (n * 2654435761 >>> 0).toString(16).padStart(8, '0');
  return `${h}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}
function stripeId(n) {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let x = n * 7919 + 12345, i = 0; i < 14; i++, x = Math.floor(x / 7) + i * 31) s += a[x % a.length];
  return `cus_${s}`;
}

function origin(req) {
  return `http://${req.headers.host}`;
}

// GitHub ---------------------------------------------------------------

function ghIssues(products) {
  return products.slice(0, COUNTS.github).map((p, i) => ({
    url: `https://api.github.com/repos/acme/widgets/issues/${i + 1}`,
    id: 2000000 + i,
    node_id: `I_kwDO${i}`,
    number: i + 1,
    title: p.title,
    user: { login: (p.reviews[0]?.reviewerName || 'octocat').replace(/\s+/g, '-').toLowerCase(), id: 500 + i, type: 'User' },
    labels: [p.category, ...p.tags].map((name, k) => ({ id: 9000 + k, name, color: 'ededed', default: false })),
    state: i % 3 ? 'open' : 'closed',
    comments: p.reviews.length,
    created_at: p.meta?.createdAt,
    body: p.description,
  }));
}

function github(q, res, req, ctx) {
  const auth = req.headers.authorization;
  if (!auth) return ctx.send(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest', status: '401' });
  if (auth !== `Bearer ${GITHUB_TOKEN}` && auth !== `token ${GITHUB_TOKEN}`) {
    return ctx.send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  }
  const per = Math.min(ctx.num(q.get('per_page'), 30), 100);
  const page = ctx.num(q.get('page'), 1);
  if (Number.isNaN(per) || Number.isNaN(page) || per < 1) return ctx.send(res, 422, { message: 'Validation Failed' });
  const all = ghIssues(ctx.products);
  const last = Math.max(1, Math.ceil(all.length / per));
  const p = Math.max(page, 1);
  // GitHub's links name the repository by id and keep the other params.
  const link = (n) => {
    const u = new URLSearchParams(q);
    u.set('per_page', String(per));
    u.set('page', String(n));
    return `<${origin(req)}/styles/github/repositories/4242/issues?${u}>`;
  };
  const rels = [];
  if (p > 1) rels.push(`${link(p - 1)}; rel="prev"`);
  if (p < last) rels.push(`${link(p + 1)}; rel="next"`, `${link(last)}; rel="last"`);
  if (p > 1) rels.push(`${link(1)}; rel="first"`);
  const headers = { 'X-RateLimit-Limit': '5000', 'X-RateLimit-Remaining': '4999', 'X-GitHub-Media-Type': 'github.v3' };
  if (rels.length) headers.Link = rels.join(', ');
  ctx.send(res, 200, all.slice((p - 1) * per, p * per), headers);
}

// Link header over two lines, relative targets -------------------------

function links(q, res, req, ctx) {
  const limit = ctx.num(q.get('limit'), 20);
  const page = ctx.num(q.get('page'), 1);
  if (Number.isNaN(limit) || Number.isNaN(page) || page < 1 || limit < 1) return ctx.send(res, 400, { error: 'bad page or limit' });
  const items = ctx.products.slice(60, 60 + COUNTS.links);
  const last = Math.ceil(items.length / limit);
  const lines = [`</styles/links/items?page=1&limit=${limit}>; rel="first start"; title="first page, of ${last}"`];
  if (page < last) lines.push(`<items?limit=${limit}&page=${page + 1}> ;rel = "prefetch next"; type=application/json`);
  if (page > 1) lines.push(`<?page=${page - 1}&limit=${limit}>; rel=prev`);
  res.setHeader('Link', lines);
  ctx.send(res, 200, { items: items.slice((page - 1) * limit, page * limit) });
}

function linksAway(q, res, req, ctx) {
  const port = req.headers.host.split(':')[1];
  res.setHeader('Link', `<http://localhost:${port}/styles/links/items?page=2&limit=5>; rel="next"`);
  ctx.send(res, 200, { items: ctx.products.slice(0, 5) });
}

// Notion ----------------------------------------------------------------

// Opaque cursors with '+', '/' and '=' in them, as base64 tokens have.
function notionCursor(off) {
  return Buffer.from(JSON.stringify({ o: off, s: '?>~' })).toString('base64');
}

function notion(q, res, req, ctx) {
  if (req.headers.authorization !== `Bearer ${NOTION_TOKEN}`) {
    return ctx.send(res, 401, { object: 'error', status: 401, code: 'unauthorized', message: 'API token is invalid.' });
  }
  if (!req.headers['notion-version']) {
    return ctx.send(res, 400, { object: 'error', status: 400, code: 'missing_version', message: 'Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.' });
  }
  const size = Math.min(ctx.num(q.get('page_size'), 100), 100);
  const cur = q.get('start_cursor');
  let off = 0;
  if (cur !== null) {
    try {
      const o = JSON.parse(Buffer.from(cur, 'base64').toString('utf8'));
      if (Buffer.from(JSON.stringify(o)).toString('base64') !== cur) throw new Error('not canonical');
      off = o.o;
    } catch {
      return ctx.send(res, 400, { object: 'error', status: 400, code: 'validation_error', message: `start_cursor should be a valid uuid, instead was \`"${cur}"\`.` });
    }
  }
  const all = ctx.products.slice(10, 10 + COUNTS.notion);
  const results = all.slice(off, off + size).map((p, i) => ({
    object: 'page',
    id: uuid(off + i + 1),
    created_time: '2024-01-02T03:04:00.000Z',
    archived: false,
    properties: {
      Name: { id: 'title', type: 'title', title: [{ type: 'text', text: { content: p.title }, plain_text: p.title }] },
      Tags: { id: 'a%3Ab', type: 'multi_select', multi_select: p.tags.map((name) => ({ id: name, name, color: 'blue' })) },
      Notes: {
        id: 'c%3Ad', type: 'rich_text',
        rich_text: p.reviews.map((r) => ({ type: 'text', text: { content: r.comment }, plain_text: r.comment })),
      },
    },
  }));
  const more = off + size < all.length;
  ctx.send(res, 200, {
    object: 'list', results, next_cursor: more ? notionCursor(off + size) : null, has_more: more,
    type: 'page_or_database', page_or_database: {},
  });
}

// Page-number APIs --------------------------------------------------------

function zero(q, res, req, ctx) {
  const size = ctx.num(q.get('size'), 20);
  const page = ctx.num(q.get('page'), 0);
  if (Number.isNaN(size) || Number.isNaN(page) || size < 1) return ctx.send(res, 400, { error: 'Bad Request', message: 'page must be >= 0' });
  const all = ctx.products.slice(100, 100 + COUNTS.zero);
  ctx.send(res, 200, {
    data: { items: all.slice(page * size, (page + 1) * size), number: page, size, totalElements: all.length, totalPages: Math.ceil(all.length / size) },
  });
}

function one(q, res, req, ctx) {
  const per = ctx.num(q.get('per_page'), 25);
  const page = ctx.num(q.get('page'), 1);
  if (Number.isNaN(per) || Number.isNaN(page) || page < 1 || per < 1) return ctx.send(res, 400, { error: 'page must be >= 1' });
  const all = ctx.products.slice(110, 110 + COUNTS.one);
  ctx.send(res, 200, {
    data: { items: all.slice((page - 1) * per, page * per), page, per_page: per, total: all.length, total_pages: Math.ceil(all.length / per) },
  });
}

// Stripe ----------------------------------------------------------------

function stripeCustomers(products) {
  return products.slice(150, 150 + COUNTS.stripe).map((p, i) => ({
    id: stripeId(i + 1), object: 'customer', created: 1700000000 - i * 60, livemode: false,
    name: p.reviews[0]?.reviewerName || p.title, email: p.reviews[0]?.reviewerEmail || null,
    description: `${p.title}: ${p.description}`,
    address: { city: p.brand || 'Nowhere', country: 'US' }, metadata: { sku: p.sku },
  }));
}

function stripe(q, res, req, ctx) {
  const auth = req.headers.authorization || '';
  const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : null;
  if (auth !== `Bearer ${STRIPE_KEY}` && basic !== `${STRIPE_KEY}:`) {
    return ctx.send(res, 401, { error: { message: 'Invalid API Key provided: sk_test_****', type: 'invalid_request_error' } });
  }
  const limit = ctx.num(q.get('limit'), 10);
  if (Number.isNaN(limit) || limit < 1 || limit > 100) return ctx.send(res, 400, { error: { message: 'Invalid integer: limit', param: 'limit', type: 'invalid_request_error' } });
  const all = stripeCustomers(ctx.products);
  const after = q.get('starting_after');
  let start = 0;
  if (after !== null) {
    const k = all.findIndex((c) => c.id === after);
    if (k < 0) return ctx.send(res, 400, { error: { code: 'resource_missing', message: `No such customer: '${after}'`, param: 'starting_after', type: 'invalid_request_error' } });
    start = k + 1;
  }
  const data = all.slice(start, start + limit);
  ctx.send(res, 200, { object: 'list', data, has_more: start + limit < all.length, url: '/v1/customers' }, { 'Request-Id': `req_${start}` });
}

// HubSpot (legacy, API key in the query) ---------------------------------

function hubspot(q, res, req, ctx) {
  if (q.get('hapikey') !== HUBSPOT_KEY) {
    return ctx.send(res, 401, { status: 'error', message: 'The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/', correlationId: '00000000-0000-0000-0000-000000000000', category: 'INVALID_AUTHENTICATION' });
  }
  const limit = Math.min(ctx.num(q.get('limit'), 100), 250);
  const off = ctx.num(q.get('offset'), 0);
  if (Number.isNaN(limit) || Number.isNaN(off)) return ctx.send(res, 400, { status: 'error', message: 'bad limit or offset' });
  const all = ctx.products.slice(20, 20 + COUNTS.hubspot).map((p, i) => ({
    portalId: 62515, companyId: 100000 + i, isDeleted: false,
    properties: {
      name: { value: p.title, timestamp: 1700000000000, source: 'API', sourceId: null },
      description: { value: p.description, timestamp: 1700000000000, source: 'API', sourceId: null },
    },
  }));
  const companies = all.slice(off, off + limit);
  // Like HubSpot: "offset" is where the next page starts, also on the last.
  ctx.send(res, 200, { companies, 'has-more': off + limit < all.length, offset: off + companies.length });
}

// Zendesk (cursor paging, basic auth with an API token) -------------------

function zendeskCursor(i) {
  return Buffer.from(`zd:${i}:aGVsbG8=`).toString('base64');
}

function zendesk(q, res, req, ctx) {
  const want = 'Basic ' + Buffer.from(`${ZENDESK_USER}:${ZENDESK_TOKEN}`).toString('base64');
  if (req.headers.authorization !== want) return ctx.send(res, 401, { error: "Couldn't authenticate you" });
  const size = Math.min(ctx.num(q.get('page[size]'), 100), 100);
  const after = q.get('page[after]');
  let start = 0;
  if (after !== null) {
    const m = /^zd:(\d+):aGVsbG8=$/.exec(Buffer.from(after, 'base64').toString('utf8'));
    if (!m || zendeskCursor(+m[1]) !== after) return ctx.send(res, 400, { error: 'InvalidPaginationParameter', description: 'page[after] is invalid' });
    start = +m[1];
  }
  const all = ctx.products.slice(120, 120 + COUNTS.zendesk).map((p, i) => ({
    id: 35436 + i, subject: p.title, description: p.description, status: 'open', tags: p.tags,
    via: { channel: 'email', source: { from: { address: p.reviews[0]?.reviewerEmail, name: p.reviews[0]?.reviewerName }, to: {}, rel: null } },
  }));
  const tickets = all.slice(start, start + size);
  const more = start + size < all.length;
  const base = `${origin(req)}/styles/zendesk/api/v2/tickets.json?page%5Bsize%5D=${size}`;
  // Zendesk sends both cursors on every page; has_more says when to stop.
  ctx.send(res, 200, {
    tickets,
    meta: { has_more: more, after_cursor: zendeskCursor(start + tickets.length), before_cursor: zendeskCursor(start) },
    links: { prev: `${base}&page%5Bbefore%5D=${zendeskCursor(start)}`, next: `${base}&page%5Bafter%5D=${zendeskCursor(start + tickets.length)}` },
  });
}

export const routes = {
  '/styles/github/repos/acme/widgets/issues': github,
  '/styles/github/repositories/4242/issues': github,
  '/styles/links/items': links,
  '/styles/links/away': linksAway,
  '/styles/notion/v1/databases/d9824bdc-8445-4327-be8b-5b47500af6ce/query': notion,
  '/styles/zero/items': zero,
  '/styles/one/items': one,
  '/styles/stripe/v1/customers': stripe,
  '/styles/hubspot/companies/v2/companies/paged': hubspot,
  '/styles/zendesk/api/v2/tickets.json': zendesk,
};
