// Benchmark embeddings server: OpenAI-compatible POST /v1/embeddings (also
// /embeddings) that answers after a fixed delay, so waiting on the network
// is realistic and constant.
//   node bench/embed_server.mjs PORT
// BENCH_EMBED_DELAY_MS (50): time from the request's arrival to the answer
// (the vectors are computed inside that time).  BENCH_EMBED_DIMS (1536).
// Request: {"input": string | [string], "model", "encoding_format":
// "float" | "base64"}; needs "Authorization: Bearer <any>".  Vectors are
// deterministic per text (seeded by its SHA-256) and L2-normalised; base64
// is little-endian float32, as OpenAI sends it.
// GET /__stats: requests, inputs, max inputs per request, most requests in
// flight at once.  POST /__delay?ms=N: the delay from now on (the
// pipelined-run phase compares 50 and 300 ms in one bench run).
import http from 'node:http';
import crypto from 'node:crypto';

const port = Number(process.argv[2] || process.env.BENCH_EMBED_PORT || 28091);
let delay = Number(process.env.BENCH_EMBED_DELAY_MS ?? 50);
const dims = Number(process.env.BENCH_EMBED_DIMS || 1536);
const MAX_BODY = 64 * 1024 * 1024;
const MAX_INPUTS = 2048;

let stats = { requests: 0, inputs: 0, maxInputs: 0, errors: 0, maxInFlight: 0 };
let inFlight = 0;

function vector(text) {
  const seed = crypto.createHash('sha256').update(text).digest();
  let x = seed.readUInt32LE(0) || 1;
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    v[i] = x / 4294967296 - 0.5;
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dims; i++) v[i] /= norm;
  return v;
}

function encode(v, format) {
  if (format === 'base64') {
    const b = Buffer.alloc(v.length * 4);
    for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i], i * 4);
    return b.toString('base64');
  }
  return Array.from(v);
}

function send(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function fail(res, code, message, type = 'invalid_request_error') {
  stats.errors++;
  send(res, code, { error: { message, type, param: null, code: null } });
}

function handle(req, res, raw, t0) {
  if (!/^Bearer \S+/.test(req.headers.authorization || '')) return fail(res, 401, 'You didn\'t provide an API key.');
  let body;
  try { body = JSON.parse(raw); } catch { return fail(res, 400, 'We could not parse the JSON body of your request.'); }
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_INPUTS ||
      !input.every((s) => typeof s === 'string' && s.length > 0)) {
    return fail(res, 400, "'input' must be a non-empty string or array of non-empty strings");
  }
  const format = body.encoding_format || 'float';
  if (format !== 'float' && format !== 'base64') return fail(res, 400, "'encoding_format' must be float or base64");
  stats.inputs += input.length;
  stats.maxInputs = Math.max(stats.maxInputs, input.length);
  let tokens = 0;
  const data = input.map((s, index) => {
    tokens += Math.ceil(Buffer.byteLength(s) / 4);
    return { object: 'embedding', index, embedding: encode(vector(s), format) };
  });
  const out = { object: 'list', data, model: body.model || 'text-embedding-3-small',
    usage: { prompt_tokens: tokens, total_tokens: tokens } };
  const wait = Math.max(0, delay - (performance.now() - t0));
  setTimeout(() => { inFlight--; send(res, 200, out); }, wait);
}

const server = http.createServer((req, res) => {
  const t0 = performance.now();
  const u = new URL(req.url, 'http://x');
  if (req.method === 'GET' && u.pathname === '/__stats') return send(res, 200, { ...stats, delay, dims });
  if (req.method === 'POST' && u.pathname === '/__reset') { stats = { requests: 0, inputs: 0, maxInputs: 0, errors: 0, maxInFlight: 0 }; return send(res, 200, { ok: true }); }
  if (req.method === 'POST' && u.pathname === '/__delay') {
    const ms = Number(u.searchParams.get('ms'));
    if (!Number.isInteger(ms) || ms < 0) return fail(res, 400, 'ms must be an integer >= 0');
    delay = ms;
    return send(res, 200, { ok: true, delay });
  }
  if (u.pathname !== '/v1/embeddings' && u.pathname !== '/embeddings') return fail(res, 404, 'not found', 'not_found');
  if (req.method !== 'POST') return fail(res, 405, 'POST only');
  stats.requests++;
  const parts = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { req.destroy(); return; }
    parts.push(c);
  });
  req.on('end', () => {
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    const done = res.writableEnded;
    handle(req, res, Buffer.concat(parts).toString('utf8'), t0);
    // An error answer is sent at once: it is no longer in flight.
    if (!done && res.writableEnded) inFlight--;
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  console.log(`bench embeddings on http://127.0.0.1:${port}/v1 (delay ${delay} ms, ${dims} dims)`);
});
// Say why the process ends (a bench run once lost this imitation without a
// word in its log): a signal by name, an exception with its stack.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { console.error(`${new Date().toISOString()} ${sig}: stopping`); process.exit(0); });
}
process.on('uncaughtException', (e) => {
  console.error(`${new Date().toISOString()} uncaught: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
process.on('exit', (code) => { console.error(`${new Date().toISOString()} exit ${code}`); });
