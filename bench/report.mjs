// The tables of a bench result (bench/results/<date>.json), in Markdown:
// printed by make bench and written into README "Performance" by
// bench/readme-tables.mjs.  Every number is "median (min–max)" over the
// runs, taken from the file as it is.

// "m (lo–hi)" with d decimals; just "m" when the runs agree to d decimals.
export function fmt(x, d = 1) {
  if (x === undefined || x === null) return 'n/a';
  if (typeof x === 'number') return num(x, d);
  const [m, lo, hi] = [x.median, x.min, x.max].map((v) => num(v, d));
  return lo === hi ? m : `${m} (${lo}–${hi})`;
}

function num(v, d) {
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

const row = (cells) => `| ${cells.join(' | ')} |`;

function fullSyncTable(res) {
  const cols = [['remote', `${res.config.embedDelayMs} ms embeddings server`], ['local', 'built-in embedder']].filter(([k]) => res[k]);
  if (!cols.length) return [];
  const L = [];
  const R = (label, f) => L.push(row([label, ...cols.map(([k]) => f(res[k], k))]));
  L.push(row([`${res.config.items.toLocaleString('en-US')} items, ${res.config.pageSize} per batch`, ...cols.map(([, l]) => l)]));
  L.push(row(['---', ...cols.map(() => '---')]));
  R('batches/s', (s) => fmt(s.batchesPerS));
  R('items/s (= chunks/s)', (s) => fmt(s.itemsPerS, 0));
  R('batch latency, client, p50 / p95 / p99 ms', (s) => ['p50', 'p95', 'p99'].map((p) => fmt(s.latencyMs.client[p])).join(' / '));
  R('in-batch total, p50 / p95 / p99 ms', (s) => ['p50', 'p95', 'p99'].map((p) => fmt(s.latencyMs.server[p])).join(' / '));
  R('**own code + DB** (total − fetch − embed), mean / p95 ms', (s) => `**${fmt(s.ownCodeAndDbMs.mean, 2)}** / ${fmt(s.ownCodeAndDbMs.p95)}`);
  R('of which our code, mean ms: parse, normalise, chunk, hash, other', (s) => ['parse', 'normalize', 'chunk', 'hash', 'other'].map((k) => fmt(s.stageMeanMs[k], 2)).join(', '));
  R('of which PostgreSQL, mean ms: load, dedup, commit', (s) => ['load', 'dedup', 'commit'].map((k) => fmt(s.stageMeanMs[k], 2)).join(', '));
  R('mean ms: fetch, embed wait', (s) => `${fmt(s.stageMeanMs.fetch, 2)}, ${fmt(s.stageMeanMs.embed, 2)}`);
  R('database round trips / embeddings requests per batch', (s) => `${fmt(s.dbRoundTrips.max, 0)} / ${fmt(s.embedRequests.max, 0)}`);
  R(`**flatness**: own code + DB, first ${res.config.edgeBatches} → last ${res.config.edgeBatches} batches, ms (ratio)`,
    (s) => `${fmt(s.firstVsLast.ownCodeAndDb.first, 2)} → ${fmt(s.firstVsLast.ownCodeAndDb.last, 2)} (**${fmt(s.firstVsLast.ownCodeAndDb.ratio, 2)}**)`);
  R('own code + DB by tenths of the sync, lowest – highest tenth median ms', (s) => {
    const m = s.trend.map((t) => t.own.median);
    return `${num(Math.min(...m), 1)} – ${num(Math.max(...m), 1)}`;
  });
  R('CPU per batch, ms: PostgreSQL, rest_batch, nginx', (s) => ['postgres', 'rest_batch', 'nginx'].map((k) => fmt(s.cpu.cpuMsPerBatch[k])).join(', '));
  R('others\' load during the phase, % of the machine', (s) => fmt(s.cpu.othersCpuPctOfMachine));
  R('peak RSS (VmHWM) of a rest_batch process, MiB', (s, k) => fmt(res.memory[k].maxHwmMiB));
  return L;
}

function scaleTable(res) {
  if (!res.scale) return [];
  const c = res.scale;
  const n = c.concurrent.sources.median;
  return [
    row([`${n} sources at once vs 1 (${c.itemsPerSource.median.toLocaleString('en-US')} items each, remote embedder)`, '']),
    row(['---', '---']),
    row(['1 source, items/s', fmt(c.single.itemsPerS, 0)]),
    row([`${n} sources, items/s per source (mean)`, fmt(c.concurrent.perSourceItemsPerS.mean, 0)]),
    row([`${n} sources, items/s together`, fmt(c.concurrent.aggregateItemsPerS, 0)]),
    row(['**per-source loss**, %', `**${fmt(c.perSourceLossPct)}**`]),
    row([`${n} sources: machine busy, %`, fmt(c.concurrent.cpu.machineBusyPct)]),
    row([`${n} sources: CPU per batch, ms: PostgreSQL, imitations, rest_batch, nginx`,
      ['postgres', 'imitations', 'rest_batch', 'nginx'].map((k) => fmt(c.concurrent.cpu.cpuMsPerBatch[k])).join(', ')]),
  ];
}

function prefilledTable(res) {
  if (!res.prefilled) return [];
  const p = res.prefilled;
  const e = res.config.edgeBatches;
  const L = [
    row([`a new source of ${res.config.items.toLocaleString('en-US')} items on a prefilled database (${fmt(p.prefill.chunks, 0)} chunks of ${fmt(p.prefill.sources, 0)} other sources, statistics stale), median ms`,
      `first ${e}`, `middle ${e}`, `last ${e}`]),
    row(['---', '---', '---', '---']),
  ];
  for (const [k, label] of [['load', 'load'], ['items', 'item lookup'], ['dedup', 'dedup'], ['commit', 'commit'], ['own', '**own code + DB**'], ['total', 'batch total']]) {
    L.push(row([label, ...['first', 'middle', 'last'].map((w) => fmt(p.edges[w][k], 2))]));
  }
  if (res.local) {
    L.push(row([`the same sync on empty tables: own code + DB, ms`, ...['first', 'middle', 'last'].map((w) => fmt(res.local.edges[w].own, 2))]));
  }
  return L;
}

// Issue 21: an explicit ANALYZE after a run (the prefilled phase's
// comparison; absent from results made before it).
function analyzeTable(res) {
  const a = res.prefilled && res.prefilled.analyze;
  if (!a) return [];
  const e = res.config.edgeBatches;
  const L = [
    row([`another new source of ${res.config.items.toLocaleString('en-US')} items on the prefilled database, ms`, 'statistics stale', `after ANALYZE (kb_chunks ${fmt(a.analyzeMs.kb_chunks, 0)} ms, kb_rest_items ${fmt(a.analyzeMs.kb_rest_items, 0)} ms)`]),
    row(['---', '---', '---']),
  ];
  const R = (label, f) => L.push(row([label, f(a.stale), f(a.refreshed)]));
  R('**own code + DB**, mean', (s) => `**${fmt(s.ownCodeAndDbMs.mean, 2)}**`);
  R(`own code + DB, median of the first ${e} / last ${e} batches`, (s) => `${fmt(s.edges.first.own, 2)} / ${fmt(s.edges.last.own, 2)}`);
  R('of which, mean: load, item lookup, dedup, commit', (s) => ['load', 'items', 'dedup', 'commit'].map((k) => fmt(s.stageMeanMs[k], 2)).join(', '));
  R('items/s', (s) => fmt(s.itemsPerS, 0));
  L.push(row(['planner\'s rows for the source synced first (it has ' + res.config.items.toLocaleString('en-US') + ')', fmt(a.estimatedRowsOfSyncedSource.before, 0), fmt(a.estimatedRowsOfSyncedSource.after, 0)]));
  return L;
}

function microTable(res) {
  if (!res.micro) return [];
  return [
    row(['micro-benchmark (MB = 10^6 bytes)', 'MB/s']),
    row(['---', '---']),
    ...[...res.micro.chunk, ...res.micro.json].map((c) => row([c.case, fmt(c.mbPerS, 0)])),
  ];
}

function pipelineTable(res) {
  if (!res.pipeline) return [];
  const p = res.pipeline;
  const ds = Object.keys(p.delays);
  const c = p.concurrent;
  const n = c.sources.median;
  const R = (label, f) => row([label, ...ds.map((d) => f(p.delays[d]))]);
  return [
    row([`pipelined server-side runs vs the serial sync (${p.items.median.toLocaleString('en-US')} items, ${res.config.pageSize} per page; RESTSYNC_EMBED_CONCURRENCY 4)`, ...ds.map((d) => `${d} ms embeddings server`)]),
    row(['---', ...ds.map(() => '---')]),
    R('serial sync (rest-batch, one page a request), items/s', (x) => fmt(x.serial.itemsPerS, 0)),
    R('pipelined run (rest-sync, a worker), items/s', (x) => fmt(x.run.itemsPerS, 0)),
    R('**run / serial**', (x) => `**${fmt(x.speedup, 2)}**`),
    R('embeddings requests in flight at once, most', (x) => fmt(x.run.embedMaxInFlight, 0)),
    R('machine busy during the run, %', (x) => fmt(x.run.machineBusyPct)),
    R('CPU per page, ms: serial (PostgreSQL, rest_batch, imitations)', (x) => ['postgres', 'rest_batch', 'imitations'].map((k) => fmt(x.serial.cpu?.cpuMsPerBatch[k])).join(', ')),
    R('CPU per page, ms: run (PostgreSQL, run worker, imitations)', (x) => ['postgres', 'workers', 'imitations'].map((k) => fmt(x.run.cpu?.cpuMsPerBatch[k])).join(', ')),
    R('others\' load during the run, % of the machine', (x) => fmt(x.run.cpu?.othersCpuPctOfMachine)),
    '',
    row([`${n} runs of ${c.itemsPerSource.median.toLocaleString('en-US')} items at once vs 1 run (${c.embedDelayMs.median} ms embeddings server)`, '']),
    row(['---', '---']),
    row(['1 run, items/s', fmt(c.single, 0)]),
    row([`${n} runs, items/s per run (mean)`, fmt(c.perSourceItemsPerS.mean, 0)]),
    row([`${n} runs, items/s per run, slowest – fastest`, `${fmt(c.perSourceItemsPerS.min, 0)} – ${fmt(c.perSourceItemsPerS.max, 0)}`]),
    row(['**per-run loss**, %', `**${fmt(c.perSourceLossPct)}**`]),
    row([`${n} runs, items/s together`, fmt(c.aggregateItemsPerS, 0)]),
    row([`${n} runs: machine busy, %`, fmt(c.machineBusyPct)]),
    row([`${n} runs: CPU per page, ms: PostgreSQL, run workers, imitations`, ['postgres', 'workers', 'imitations'].map((k) => fmt(c.cpu?.cpuMsPerBatch[k])).join(', ')]),
    row(['peak RSS (VmHWM) of a run worker, MiB', fmt(p.workerMemory.maxHwmMiB)]),
  ];
}

// One line per run: where the medians come from.
function perRunTable(res) {
  if (!res.runs?.length || !(res.runs[0].remote || res.runs[0].local)) return [];
  const cols = ['remote', 'local'].filter((k) => res.runs[0][k]);
  const head = ['run', ...cols.flatMap((k) => [`${k}: own code + DB, mean ms`, `${k}: dedup, mean ms`,
    `${k}: flatness (own code + DB)`, `${k}: others' load, %`])];
  return [
    row(head),
    row(head.map(() => '---')),
    ...res.runs.map((r, i) => row([String(i + 1), ...cols.flatMap((k) => [num(r[k].ownCodeAndDbMs.mean, 2),
      num(r[k].stageMeanMs.dedup, 2), num(r[k].firstVsLast.ownCodeAndDb.ratio, 2), num(r[k].cpu.othersCpuPctOfMachine, 1)])])),
  ];
}

function targetTable(res) {
  if (!res.targets?.length) return [];
  return [
    row(['target (a comparison, not a gate; medians)', 'figure', '']),
    row(['---', '---', '---']),
    ...res.targets.map((t) => row([`${t.what} ${t.target}`, num(t.value, 2), t.met ? 'met' : 'not met'])),
  ];
}

export function markdown(res, file) {
  const m = res.machine;
  const pg = (m.postgres || '').split(' on ')[0];
  const st = m.postgresSettings || {};
  const L = [];
  L.push(`${res.config.runs} runs of \`make bench\` on ${res.date.slice(0, 10)} (from \`${file}\`), `
    + `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, ${pg} (fsync ${st.fsync}, `
    + `synchronous_commit ${st.synchronous_commit}; \`kb_chunks.embedding\` ${(m.embeddingColumn || '').split(' ')[0]}), Node ${m.node}, `
    + `${m.fcgiWorkers} FastCGI workers; load average ${res.loadAverageAtStart.join(' ')} at the start, `
    + `${res.loadAverageAtEnd.join(' ')} at the end; ${Math.round(res.benchSeconds)} s in all. `
    + 'Every figure is the median of the runs with their min–max in brackets.');
  for (const t of [fullSyncTable(res), perRunTable(res), scaleTable(res), prefilledTable(res), analyzeTable(res), pipelineTable(res), microTable(res), targetTable(res)]) {
    if (t.length) L.push('', ...t);
  }
  return L.join('\n');
}
