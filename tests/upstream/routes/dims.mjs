// An OpenAI-compatible embeddings imitation that honours "dimensions"
// (/dims/), for tests/integration/34_dimensions.test.mjs.
//   POST /dims/v1/embeddings   {input, model, encoding_format?, dimensions?}
//        -> vectors of `dimensions` floats (1536 without it), base64 or
//           arrays as asked; 400 for a dimensions outside 1..3072.
//   GET  /dims/requests        every request's {model, dimensions, inputs,
//                              encoding_format} (dimensions null if absent)
//   POST /dims/reset           clears that list
// The vectors are word-feature hashes (like the built-in embedder, but
// its own function): a query of an item's words finds that item.
import crypto from 'node:crypto';

let requests = [];

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

// The imitation's vector of a text at `dims` dimensions, unit length.
export function dimsEmbedding(text, dims) {
  const v = new Float32Array(dims);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  for (const w of words) {
    const h = crypto.createHash('sha256').update(w).digest();
    v[h.readUInt32LE(0) % dims] += h[4] & 1 ? 1 : -1;
  }
  if (!words.length) v[0] = 1;
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < dims; i++) v[i] /= n;
  return v;
}

export const routes = {
  async '/dims/v1/embeddings'(q, res, req, ctx) {
    let body;
    try { body = JSON.parse(await readBody(req)); } catch { return ctx.send(res, 400, { error: { message: 'not JSON' } }); }
    const has = Object.hasOwn(body, 'dimensions');
    requests.push({ model: body.model, dimensions: has ? body.dimensions : null, inputs: body.input.length,
      encoding_format: body.encoding_format ?? null });
    const dims = has ? body.dimensions : 1536;
    if (!Number.isInteger(dims) || dims < 1 || dims > 3072) {
      return ctx.send(res, 400, { error: { message: `dimensions must be an integer from 1 to 3072, got ${JSON.stringify(dims)}` } });
    }
    const data = body.input.map((t, index) => {
      const v = dimsEmbedding(t, dims);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    ctx.send(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
  },
  '/dims/requests'(q, res, req, ctx) { ctx.send(res, 200, requests); },
  '/dims/reset'(q, res, req, ctx) { requests = []; ctx.send(res, 200, { ok: true }); },
};
