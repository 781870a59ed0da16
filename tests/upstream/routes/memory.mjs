// Upstream imitations for tests/integration/25_json_memory.test.mjs
// (prefix /jsonmem/): bodies of exactly ?bytes=N (at most) whose json-c
// tree is far larger than their text (issue 14 item 2), and ordinary ones.
const cache = new Map();

// "[" el "," el ... "]" as long as fits in n bytes.
function repeat(el, n) {
  const k = Math.max(1, Math.floor((n - 1) / (el.length + 1)));
  return Buffer.from('[' + Array(k).fill(el).join(',') + ']');
}

const SHAPES = {
  objects: (n) => repeat('{}', n),
  zeros: (n) => repeat('0', n),
  arrays: (n) => repeat('[]', n),
  nested: (n) => repeat('[[[[]]]]', n),
  // One key as long as the body allows (json-c copies it and keeps its
  // token buffer at twice its size).
  longkey: (n) => Buffer.from(`[{"${'k'.repeat(n - 10)}":0}]`),
  // Keys of 1 KiB, 1000 to an object.
  longkeys: (n) => {
    const obj = '{' + Array.from({ length: 1000 }, (_, i) => `"${String(i).padStart(1024, 'k')}":0`).join(',') + '}';
    return repeat(obj, n);
  },
  // Ordinary items of 64 KiB strings outside the text fields: parses.
  strings: (n) => repeat(`{"blob":"${'x'.repeat(65536)}"}`, n),
  // Ordinary items of 64 KiB of prose, different on every page (?page=):
  // a run's pages each bring n bytes of new text to chunk and embed.
  prose: (n, page) => {
    const items = [];
    let used = 2;
    for (let i = 0; used + 70000 < n; i++) {
      const words = [];
      for (let w = 0, len = 0; len < 65536; w++) {
        const word = `w${page}x${i}x${w}`;
        words.push(word);
        len += word.length + 1;
      }
      const el = `{"id":"p${page}-${i}","text":"${words.join(' ')}"}`;
      items.push(el);
      used += el.length + 1;
    }
    return Buffer.from('[' + items.join(',') + ']');
  },
};

export const routes = {
  '/jsonmem/body'(q, res) {
    const shape = q.get('shape');
    const n = Number(q.get('bytes'));
    if (!SHAPES[shape] || !Number.isInteger(n) || n < 16) {
      res.writeHead(400);
      return res.end();
    }
    const page = Number(q.get('page') || q.get('skip') || 1);
    const key = `${shape}:${n}:${shape === 'prose' ? page : ''}`;
    if (!cache.has(key)) {
      cache.clear();
      cache.set(key, SHAPES[shape](n, page));
    }
    const body = cache.get(key);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  },
};
