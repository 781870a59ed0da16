// A slow OpenAI-compatible embeddings imitation that counts the requests
// in flight, for the pipelined runs (tests/integration/23_pipeline.test.mjs).
//
// POST /pipe/v1/embeddings   answers after `delay` ms; the vectors are
//     /mut/v1's (a hash of the text), so a run and a serial sync of the
//     same items store the same vectors
// POST /pipe/control {delay?, throttle?, throttleAfter?, retryAfter?}
//     throttle: N requests answer 429 with Retry-After: retryAfter
//     seconds (default 1), once throttleAfter more requests (default 0)
//     were answered
// GET  /pipe/stats    {requests, inputs, inFlight, maxInFlight, throttled,
//                      maxAfterThrottle, retryGapsMs}  (maxAfterThrottle:
//                      the most in flight at once since the last 429 was
//                      answered; retryGapsMs: for each request that came
//                      again with the body of one answered 429, the ms
//                      between that answer and its arrival)
// POST /pipe/reset    counters to 0 (delay and throttle kept)
import { mockEmbedding } from './mutable.mjs';

const st = { delay: 0, throttle: 0, throttleAfter: 0, retryAfter: 1 };
let c = {};
const throttledAt = new Map();	// request body -> when it was answered 429
const reset = () => {
  c = { requests: 0, inputs: 0, inFlight: 0, maxInFlight: 0, throttled: 0, maxAfterThrottle: 0, retryGapsMs: [] };
  throttledAt.clear();
};
reset();

function readBody(req) {
  return new Promise((resolve, reject) => {
    let b = '';
    req.on('data', (x) => { b += x; });
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
}

export const routes = {
  async '/pipe/v1/embeddings'(q, res, req, ctx) {
    c.inFlight++;
    c.requests++;
    c.maxInFlight = Math.max(c.maxInFlight, c.inFlight);
    c.maxAfterThrottle = Math.max(c.maxAfterThrottle, c.inFlight);
    const raw = await readBody(req);
    const body = JSON.parse(raw);
    if (throttledAt.has(raw)) {
      c.retryGapsMs.push(Date.now() - throttledAt.get(raw));
      throttledAt.delete(raw);
    }
    if (st.throttleAfter > 0) st.throttleAfter--;
    else if (st.throttle > 0) {
      st.throttle--;
      c.throttled++;
      c.inFlight--;
      c.maxAfterThrottle = 0;
      throttledAt.set(raw, Date.now());
      return ctx.send(res, 429, { error: { message: 'rate limited' } }, { 'Retry-After': String(st.retryAfter) });
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    c.inputs += inputs.length;
    const data = inputs.map((t, index) => {
      const v = mockEmbedding(t);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    setTimeout(() => {
      c.inFlight--;
      ctx.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
    }, st.delay);
  },
  async '/pipe/control'(q, res, req, ctx) {
    const cmd = JSON.parse(await readBody(req) || '{}');
    for (const k of ['delay', 'throttle', 'throttleAfter', 'retryAfter']) if (cmd[k] !== undefined) st[k] = Number(cmd[k]);
    ctx.send(res, 200, { ok: true, ...st });
  },
  '/pipe/stats'(q, res, req, ctx) { ctx.send(res, 200, { ...c }); },
  '/pipe/reset'(q, res, req, ctx) { reset(); ctx.send(res, 200, { ok: true }); },
};
