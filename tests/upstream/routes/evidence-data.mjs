// The generated texts of routes/evidence.mjs, shared with the tests that
// check what was stored (tests/integration/13_fixtures.test.mjs).
// Not a route file: it exports no routes.
export const routes = {};

// A small deterministic generator (LCG), so texts are the same every run.
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

const VOCAB = ('the of and to in is that for it as with was on be by this are from or at an which have not '
  + 'but they has had were all can more one their there been if would will what when up so about out '
  + 'synchronise cursor page batch upstream record chunk vector index source tenant embedding commit '
  + 'latency throughput window overlap boundary paragraph sentence token budget deadline retry '
  + 'knowledge archive ledger harbour meadow lantern orchard granite velvet thunder copper willow').split(' ');

// words of prose with a running number every 7th word (never periodic).
function prose(seed, words, { sentences = true, paragraphs = true } = {}) {
  const r = rng(seed);
  const out = [];
  let sentence = 0;
  let para = 0;
  for (let i = 0; i < words; i++) {
    let w = i % 7 === 3 ? `n${seed}x${i}` : VOCAB[Math.floor(r() * VOCAB.length)];
    if (sentences && sentence === 0) w = w[0].toUpperCase() + w.slice(1);
    sentence++;
    para++;
    let sep = ' ';
    if (sentences && sentence >= 8 + Math.floor(r() * 12)) {
      w += '.';
      sentence = 0;
      if (paragraphs && para >= 60 + Math.floor(r() * 60)) { sep = '\n\n'; para = 0; }
    }
    out.push(w, sep);
  }
  return out.join('').trim();
}

export const EV_LONG = [
  { id: 'long-paragraphs', title: 'Paragraphs', body: prose(1, 3000) },
  { id: 'long-one-line', title: 'One line', body: prose(2, 6000, { paragraphs: false }) },
  { id: 'long-no-punctuation', title: 'No punctuation', body: prose(3, 4000, { sentences: false }) },
  { id: 'long-short', title: 'Short', body: prose(4, 20) },
];

const CJK = '知識庫同期処理游標頁批次上流記録分割向量索引源租戸嵌入提交遅延吞吐窓重疊境界段落文章符号予算期限再試行'
  + '春夏秋冬東西南北山川草木日月星辰風雨雪霜金銀銅鉄紙筆墨硯';
function cjk(seed, n) {
  const r = rng(seed);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += CJK[Math.floor(r() * CJK.length)];
    if (i % 97 === 96) s += `${i}。`;
  }
  return s;
}

const EMOJI = ['👩‍👩‍👧‍👦', '🇯🇵', '🇫🇷', '👍🏽', '🧑🏿‍💻', '❤️', '🏳️‍🌈', '😀', '🦀', '🐘'];
function emoji(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(`${EMOJI[i % EMOJI.length]}${i}`);
  return out.join(' ');
}

export const EV_INTL = [
  { id: 'intl-cjk', title: '知識庫の同期', body: cjk(11, 2600) },
  { id: 'intl-emoji', title: 'Emoji 👩‍👩‍👧‍👦', body: emoji(900) },
  { id: 'intl-rtl', title: 'שלום עולם', body: 'مرحبا بالعالم \u200fعدد 42\u200f و שלום עולם \u200eLTR inside\u200e — ' + Array.from({ length: 40 }, (_, i) => `سطر ${i} שורה ${i}`).join('، ') },
  { id: 'intl-combining', title: 'Cafe\u0301 Ä', body: 'Cafe\u0301 A\u0308rger Tie\u0302\u0301ng Vie\u0323\u0302t Z\u0335\u0321\u0327a\u0336\u0322l\u0337\u0323g\u0338\u0324o\u0340\u0341 ñ n\u0303 ' + Array.from({ length: 300 }, (_, i) => `e\u0301${i}o\u0308`).join(' ') },
];

// The text restsync makes of an item with textFields ["title", "body"].
export function itemText(it) {
  return `title: ${it.title.trim()}\nbody: ${it.body.trim()}`;
}

export function distinctItem(i) {
  return { id: `d${i}`, title: `Distinct item ${i}`, body: `Record ${i} of the distinct fixture: ${prose(1000 + i, 12)}` };
}

// Version 1: 30 items.  Version 2: every fifth item (ids c0, c5, ...)
// has a new body, and 5 items are added at the end.
export function changingItems(version) {
  const n = version >= 2 ? 35 : 30;
  return Array.from({ length: n }, (_, i) => ({
    id: `c${i}`,
    title: `Changing ${i}`,
    body: version >= 2 && i % 5 === 0 ? `Revised text of item ${i} in version ${version}.` : `Original text of item ${i}.`,
  }));
}
