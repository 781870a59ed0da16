// Upstream imitations for the operator page tests (prefix /page/).
//
// /page/xss/items?cursor=C&limit=N — a cursor API whose items, next
// cursor and error body carry script and event-handler payloads:
//   no cursor      -> 3 items with hostile titles, next_cursor = a payload
//   any cursor     -> HTTP 500 with an HTML body full of payloads
// /page/slow/products — the DummyJSON route, answered after ?ms= (default
// 1500) milliseconds, so a test can hold a batch in flight.
export const XSS = {
  script: '<script>window.__xss = "script"</script>',
  img: '<img src=x onerror="window.__xss = \'img\'">',
  svg: '"><svg onload="window.__xss = \'svg\'">',
  cursor: '<img src=x onerror="window.__xss = \'cursor\'">',
  error: '<html><body><script>window.__xss = "error"</script>'
    + '<img src=x onerror="window.__xss = \'error-img\'; alert(1)">Bad gateway</body></html>',
};

export const routes = {
  '/page/xss/items'(q, res, req, ctx) {
    const cursor = q.get('cursor');
    if (cursor) {
      res.writeHead(500, { 'Content-Type': 'text/html' });
      return res.end(XSS.error);
    }
    const items = [XSS.script, XSS.img, XSS.svg].map((t, i) => ({
      id: i + 1, title: t, description: `${t} description ${i + 1}`,
    }));
    ctx.send(res, 200, { items, next_cursor: XSS.cursor });
  },
  '/page/slow/products'(q, res, req, ctx) {
    const ms = ctx.num(q.get('ms'), 1500);
    const skip = ctx.num(q.get('skip'), 0);
    const limit = ctx.num(q.get('limit'), 30);
    setTimeout(() => {
      const page = ctx.products.slice(skip, skip + limit);
      ctx.send(res, 200, { products: page, total: ctx.products.length, skip, limit: page.length });
    }, ms);
  },
};
