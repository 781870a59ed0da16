// Upstream imitations beyond DummyJSON's 194 short products (issue 19).
// All are offset APIs: ?skip=S&limit=L -> {items, total, skip}; every
// item is {id, title, body}.  Texts are generated deterministically (the
// same on every run), never periodic, so a chunk's text occurs once.
//
//   /ev/distinct?n=N     N (20,000) distinct short items: every batch
//                        embeds and inserts (the memory test)
//   /ev/long             4 items of 20 to 6,000 words: paragraphs, one
//                        long line of sentences, words without any
//                        punctuation, and a short one
//   /ev/intl             non-ASCII: CJK without spaces (multi-chunk),
//                        emoji (ZWJ sequences, flags, skin tones), Arabic
//                        and Hebrew with direction marks, combining marks
//                        (decomposed accents, stacked marks)
//   /ev/changing         items that change between syncs: version 1 has 30
//                        items; version 2 edits every fifth and adds 5
//   POST /ev/changing/version {"version": v}
import { EV_LONG, EV_INTL, changingItems, distinctItem } from './evidence-data.mjs';

let version = 1;

function offsetPage(q, res, ctx, items, total = items.length) {
  const skip = ctx.num(q.get('skip'), 0);
  const limit = ctx.num(q.get('limit'), 10);
  if (Number.isNaN(skip) || Number.isNaN(limit) || limit < 1) return ctx.send(res, 400, { error: 'bad skip/limit' });
  const page = typeof items === 'function' ? items(skip, Math.min(limit, Math.max(0, total - skip))) : items.slice(skip, skip + limit);
  ctx.send(res, 200, { items: page, total, skip });
}

export const routes = {
  '/ev/distinct'(q, res, req, ctx) {
    const n = ctx.num(q.get('n'), 20000);
    offsetPage(q, res, ctx, (skip, k) => Array.from({ length: k }, (_, i) => distinctItem(skip + i)), n);
  },
  '/ev/long'(q, res, req, ctx) { offsetPage(q, res, ctx, EV_LONG); },
  '/ev/intl'(q, res, req, ctx) { offsetPage(q, res, ctx, EV_INTL); },
  '/ev/changing'(q, res, req, ctx) { offsetPage(q, res, ctx, changingItems(version)); },
  '/ev/changing/version'(q, res, req, ctx) {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      version = JSON.parse(body).version;
      ctx.send(res, 200, { version });
    });
  },
};
