// A minimal FastCGI client (FastCGI 1.0 spec, responder role) for the
// tests that talk to the programs' sockets directly, around nginx.
//   node fcgi_client.mjs idle SOCKET N HOLD_MS
// opens N connections that send nothing (or half a record) and prints,
// as JSON, after how many ms the server closed each (null: still open
// after HOLD_MS).
import net from 'node:net';

function record(type, id, content = Buffer.alloc(0)) {
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.from([1, type, id >> 8, id & 255, content.length >> 8, content.length & 255, pad, 0]);
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

function lenBytes(n) {
  return n < 128 ? Buffer.from([n]) : Buffer.from([((n >>> 24) & 127) | 128, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

export function encodeParams(params) {
  return Buffer.concat(Object.entries(params).map(([k, v]) => {
    const kb = Buffer.from(k);
    const vb = Buffer.from(String(v));
    return Buffer.concat([lenBytes(kb.length), lenBytes(vb.length), kb, vb]);
  }));
}

// One request (endStdin false: the body never ends): resolves {data (stdout bytes as a string), closed: true,
// ms} when the server closes the connection, or {timeout: true}.
export function fcgiRequest(sock, params, body = '', timeoutMs = 5000, endStdin = true) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.createConnection(sock);
    const chunks = [];
    const timer = setTimeout(() => { c.destroy(); resolve({ timeout: true, data: Buffer.concat(chunks).toString('latin1') }); }, timeoutMs);
    c.on('connect', () => {
      const b = Buffer.from(body);
      c.write(Buffer.concat([
        record(1, 1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])),   // BEGIN_REQUEST, responder
        record(4, 1, encodeParams({ CONTENT_LENGTH: b.length, ...params })),
        record(4, 1),
        ...(b.length ? [record(5, 1, b)] : []),
        ...(endStdin ? [record(5, 1)] : []),
      ]));
    });
    c.on('data', (d) => chunks.push(d));
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: Date.now() - t0, data: Buffer.concat(chunks).toString('latin1') });
    });
  });
}

// Connections that never finish their request.
export function idle(sock, n, holdMs) {
  return Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.createConnection(sock);
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    const timer = setTimeout(() => { c.destroy(); finish(null); }, holdMs);
    c.on('connect', () => {
      // Every other one sends half a BEGIN_REQUEST record, then nothing.
      if (i % 2) c.write(Buffer.from([1, 1, 0, 1]));
    });
    c.on('error', () => {});
    c.on('close', () => { clearTimeout(timer); finish(Date.now() - t0); });
  })));
}

if (process.argv[2] === 'idle') {
  const [sock, n, hold] = process.argv.slice(3);
  idle(sock, Number(n), Number(hold)).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
