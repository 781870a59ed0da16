// Upstream imitation for the CLI and worker tests (/wk/).
//
// GET /wk/items?src=KEY&page=N&per_page=M[&n=23][&delay=MS][&fail=P]
//   A page-numbered API (1-based) of n items that belong to KEY:
//   {"items":[{id,title,body}], "total":n}.  The page is answered after
//   delay ms; page P (fail) is refused with 422.  Every request is noted
//   with its source key and page, in arrival order.
// GET /wk/log?src=PREFIX   the notes [{src, page, items, t, end}] whose
//   key starts with PREFIX (all without it).  items is null until the page
//   was answered.
// POST /wk/reset           forget the notes.
let fetches = [];

export const routes = {
  '/wk/items'(q, res, req, ctx) {
    const src = q.get('src') || 'x';
    const n = ctx.num(q.get('n'), 23);
    const page = ctx.num(q.get('page'), 1);
    const per = ctx.num(q.get('per_page'), 5);
    const delay = ctx.num(q.get('delay'), 0);
    const fail = ctx.num(q.get('fail'), 0);
    if ([n, page, per, delay, fail].some(Number.isNaN) || page < 1 || per < 1) {
      return ctx.send(res, 400, { error: 'bad query' });
    }
    const note = { src, page, items: null, t: Date.now(), end: null };
    fetches.push(note);
    setTimeout(() => {
      note.end = Date.now();
      if (page === fail) {
        note.items = 0;
        return ctx.send(res, 422, { error: `page ${page} refused` });
      }
      const items = [];
      for (let i = (page - 1) * per; i < Math.min(n, page * per); i++) {
        items.push({ id: i + 1, title: `${src} item ${i + 1}`, body: `The body of ${src} item ${i + 1}.` });
      }
      note.items = items.length;
      ctx.send(res, 200, { items, total: n });
    }, delay);
  },
  '/wk/log'(q, res, req, ctx) {
    const prefix = q.get('src') || '';
    ctx.send(res, 200, fetches.filter((f) => f.src.startsWith(prefix)));
  },
  '/wk/reset'(q, res, req, ctx) {
    fetches = [];
    ctx.send(res, 200, { ok: true });
  },
};
