// Turns the bench's measurements into docs/benchmarks.md: tables, ratios and the targets of issues 2 and 9.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const SOAK_START = '<!-- soak:start -->';
const SOAK_END = '<!-- soak:end -->';

const f = (v, d = 2) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
const x = (v) => (v === undefined || Number.isNaN(v) ? '—' : `${v.toFixed(2)}×`);
const byId = (table, id) => table.rows.find((r) => r.id === id);

/**
 * CPU per request of `id` over its floor's, in one mode: the median over rounds of the two measured
 * in the same round (seconds apart), so a change in the machine's load between rounds cancels out.
 */
function roundRatios(table, id, mode) {
  const row = byId(table, id);
  const floor = row?.floor && byId(table, row.floor);
  const a = row?.[mode]?.cpuPerRound;
  const b = floor?.[mode]?.cpuPerRound;
  if (!a?.length || !b?.length) return undefined;
  return a.map((v, i) => v / b[i]).filter(Number.isFinite).sort((p, q) => p - q);
}

/** The q-quantile of sorted ratios. */
const quantile = (ratios, q) => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))];

function cpuRatio(table, id, mode) {
  const ratios = roundRatios(table, id, mode);
  return ratios && quantile(ratios, 0.5);
}

/** The median ratio and, from four rounds on, the middle half of the rounds' ratios: how much one run's ratio can be trusted. */
function cpuRatioText(table, id, mode) {
  const ratios = roundRatios(table, id, mode);
  if (!ratios?.length) return '—';
  const median = x(quantile(ratios, 0.5));
  return ratios.length >= 4 ? `${median} (${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)})` : median;
}

function throughputTable(table, mode) {
  const direct = byId(table, 'direct')[mode];
  const stream = mode !== 'json';
  const lines = [
    `| configuration | req/s | req/s vs direct | p50 ms | p99 ms |${stream ? ' TTFB p50 ms |' : ''} CPU µs/req | CPU vs floor | peak RSS MB |`,
    `|---|---:|---:|---:|---:|${stream ? '---:|' : ''}---:|---:|---:|`,
  ];
  for (const row of table.rows) {
    const r = row[mode];
    if (!r) continue;
    lines.push(
      `| ${row.label} | ${f(r.rps, 0)} | ${x(r.rps / direct.rps)} | ${f(r.p50)} | ${f(r.p99)} |${stream ? ` ${f(r.ttfb50)} |` : ''} ${f(r.cpu, 0)} | ${row.floor ? cpuRatioText(table, row.id, mode) : row.id.endsWith('floor') ? 'floor' : '—'} | ${row.rss ? f(row.rss / 1048576, 0) : '—'} |`,
    );
  }
  return lines.join('\n');
}

/** The stream TTFB p50 (one at a time) of a row's floor. */
function floorTtfb(table, row) {
  const floor = row.floor && byId(table, row.floor);
  return row.streamc1 && floor?.streamc1 ? floor.streamc1.ttfb50 : undefined;
}

function latencyTable(table) {
  const d = byId(table, 'direct');
  const lines = [
    '| configuration | non-stream p50 ms | over direct ms | stream TTFB p50 ms | TTFB over direct ms | TTFB over its floor ms | stream TTFB p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of table.rows) {
    const j = row.jsonc1;
    const s = row.streamc1;
    if (!j && !s) continue;
    lines.push(
      `| ${row.label} | ${f(j?.p50, 3)} | ${row.id === 'direct' ? '—' : f(j && j.p50 - d.jsonc1?.p50, 3)} | ${f(s?.ttfb50, 3)} | ${row.id === 'direct' ? '—' : f(s && s.ttfb50 - d.streamc1?.ttfb50, 3)} | ${f(floorTtfb(table, row) === undefined ? undefined : s.ttfb50 - floorTtfb(table, row), 3)} | ${f(s?.ttfb99, 3)} |`,
    );
  }
  return lines.join('\n');
}

/** Each target of issues 2 and 9 with what this run measured; rows missing from the run are left out. */
export function evaluateTargets(table, semantic) {
  const targets = [];
  // `minimum`: the row doing the contract's minimum by hand on the same framework, beside the target
  // (a limit below it is one no gateway honouring DESIGN.md meets on that framework in this run).
  const cpu = (id, limit, what, issue = 9, minimum = undefined) => {
    const v = cpuRatio(table, id, 'json');
    if (v === undefined) return;
    const reference = minimum && cpuRatio(table, minimum, 'json') !== undefined ? ` (the contract's minimum by hand: ${cpuRatioText(table, minimum, 'json')})` : '';
    targets.push({ what, limit: `≤ ${limit}× (issue ${issue})`, measured: cpuRatioText(table, id, 'json') + reference, met: v <= limit });
  };
  for (const [id, name, minimum] of [['node-llmux', 'node:http', 'node-minimum'], ['express-llmux', 'Express', 'express-minimum'], ['koa-llmux', 'Koa'], ['nestjs-llmux', 'NestJS', 'nestjs-minimum']]) {
    cpu(id, 1.1, `CPU per non-stream request, ${name}, features off, vs its floor`, 9, minimum);
    cpu(id, 1.25, `CPU per non-stream request, ${name}, features off, vs its floor`, 2, minimum);
  }
  cpu('express-raw', 1.1, 'CPU per non-stream request, Express with llmux ahead of express.json(), vs the floor');
  cpu('express-all', 1.3, 'CPU per non-stream request, Express, cache + budgets + limits in memory, vs the floor');
  cpu('express-all-redis', 1.5, 'CPU per non-stream request, Express, cache + budgets + limits in Redis, vs the floor');
  const direct = byId(table, 'direct')?.streamc1?.ttfb50;
  for (const row of table.rows) {
    if (!row.id.includes('llmux') && !row.id.startsWith('express-all')) continue;
    const s = row.streamc1?.ttfb50;
    if (s === undefined || direct === undefined) continue;
    const floor = floorTtfb(table, row);
    const context = floor === undefined ? '' : ` (its floor alone: ${f(floor - direct, 3)} ms; llmux over the floor: ${f(s - floor, 3)} ms)`;
    targets.push({ what: `stream TTFB p50 over direct, ${row.label}`, limit: '≤ 0.3 ms', measured: `${f(s - direct, 3)} ms${context}`, met: s - direct <= 0.3 });
  }
  const floor = byId(table, 'express-floor');
  const hit = byId(table, 'express-cache-hit');
  for (const mode of table.modes.filter((m) => m !== 'long')) {
    const ratio = cpuRatio(table, 'express-cache-hit', mode);
    if (ratio === undefined) continue;
    targets.push({
      what: `exact cache hit (${mode === 'json' ? 'non-stream' : 'stream'}) vs the Express floor's miss, CPU`,
      limit: '< 1×',
      measured:
        `${cpuRatioText(table, 'express-cache-hit', mode)}; medians ${f(hit[mode].cpu, 0)} vs ${f(floor[mode].cpu, 0)} µs` +
        (mode === 'json' && cpuRatio(table, 'express-hit-minimum', mode) !== undefined ? ` (a hit by hand, the contract's minimum: ${cpuRatioText(table, 'express-hit-minimum', mode)})` : ''),
      met: ratio < 1,
    });
  }
  if (semantic) {
    targets.push({ what: `semantic lookup p99 at ${semantic.entries.toLocaleString('en')} entries`, limit: '≤ 2 ms', measured: `${f(semantic.p99, 3)} ms`, met: semantic.p99 <= 2 });
  }
  return targets;
}

/** The soak section soak.mjs wrote last, kept when the bench rewrites the file. */
export function currentSoakSection() {
  if (!existsSync(DOC)) return undefined;
  const text = readFileSync(DOC, 'utf8');
  const a = text.indexOf(SOAK_START);
  const b = text.indexOf(SOAK_END);
  return a >= 0 && b > a ? text.slice(a, b + SOAK_END.length) : undefined;
}

/** Replaces (or appends) the soak section of docs/benchmarks.md. */
export function withSoakSection(doc, section) {
  const block = `${SOAK_START}\n${section.trim()}\n${SOAK_END}`;
  const a = doc.indexOf(SOAK_START);
  const b = doc.indexOf(SOAK_END);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + SOAK_END.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

export function renderDoc({ meta, table, semantic, targets }) {
  const load = (l) => l.map((v) => v.toFixed(2)).join(' / ');
  const parts = [
    '# Benchmarks',
    '',
    `Produced by \`${meta.command}\` on ${meta.date.slice(0, 16).replace('T', ' ')} UTC: Node ${meta.node}, ${meta.cpu}. ` +
      `Load average (1/5/15 min) ${load(meta.loadBefore)} before the HTTP part and ${load(meta.loadAfter)} after it ` +
      `(the machine is shared; everything below ran in one interleaved run, so ratios are what to read).`,
    '',
    '## How it is measured',
    '',
    `- A mock OpenAI upstream (\`bench/servers/upstream.mjs\`) and every app (\`bench/servers/app.mjs\`) run in their own process; ` +
      `the load generator is undici pools in the parent. llmux is bundled from the working tree's sources (\`bench/lib/build.mjs\`, esbuild as tsup).`,
    `- **Floor**: the least a proxy on that framework must do — take the body, forward it on a keep-alive undici pool, relay status, ` +
      `content type and body chunk by chunk (Express and NestJS behind their JSON body parser, Koa behind \`@koa/bodyparser\`). ` +
      `llmux runs behind the same parser, except the "ahead of express.json()" row, where it reads the raw body itself. ` +
      `The naive Express + \`fetch\` proxy is a fixed reference. So are the node:http, Express and NestJS proxies "doing the contract's minimum by hand": the floor plus only what DESIGN.md cannot do without — ` +
      `the request body parsed (to read \`model\`; behind a JSON body parser it already is), a standard \`AbortController\` per request so a client that leaves stops the upstream call, the answer parsed (usage, for its cost) and the contract's response headers — ` +
      `the cost any gateway honouring the contract starts from. "Express cache hit doing the contract's minimum by hand" is the least an exact-match hit can do behind \`express.json()\`: ` +
      `hash the body, find the stored answer in a Map, send it with the contract's headers — no validation, plan, routing, record or cost.`,
    `- **Throughput**: ${meta.N} requests × ${meta.ROUNDS} rounds per configuration and mode at concurrency ${meta.CONCURRENCY}, after ${meta.WARMUP} warm-up requests; ` +
      `every app runs with \`${meta.appFlags}\` (V8 optimises sooner, and an app left idle while the others run keeps its heap and compiled code, as a server under steady traffic does; same for every app); ` +
      (meta.pinned ? `processes are pinned with \`taskset\` (${meta.pinned}), so the app measured has its core to itself; ` : '') +
      `rounds interleave every configuration (order rotated per round). **CPU µs/req** is the app process's user + system time ` +
      '(`process.cpuUsage()`, GC and helper threads included) per request, the median of the rounds (a burst of outside load lands on some rounds, not all); **CPU vs floor** is the median, over rounds, of its CPU divided by the floor\'s on the same framework in the same round, with the middle half of those per-round ratios in brackets.',
    `- **One request at a time**: ${meta.TTFB_N} requests per configuration and mode at concurrency 1, the configurations taking turns every ${meta.TTFB_BLOCK} requests (so a burst of outside load lands on all of them alike): the time a proxy adds to a single call, free of queueing. ` +
      `Streams: the upstream sends the role and first content chunk, waits ${meta.streamGapMs} ms, then sends the rest; TTFB is the time to the first body byte at the client.`,
    '- Request: a system and a user message, `gpt-4o-mini`; the cache-miss rows send a new prompt each time, every other row the same one. ' +
      'Budgets and rate limits are per user (`identify`), checked and reserved on every request, never reached. Redis rows use `@llmux/redis` on 127.0.0.1:6379.',
    '',
    '## Throughput: non-stream',
    '',
    throughputTable(table, 'json'),
    '',
  ];
  if (table.modes.includes('stream')) parts.push('## Throughput: stream', '', throughputTable(table, 'stream'), '');
  if (table.modes.includes('long')) {
    parts.push(
      `## Throughput: long streams (${meta.longTokens} tokens)`,
      '',
      `The upstream writes ${meta.longTokens} content chunks, each on its own event-loop turn (its own TCP segment), as a model emits tokens; ` +
        `${meta.LONG_N} requests × ${meta.ROUNDS} rounds per configuration at concurrency ${meta.CONCURRENCY}. What a proxy spends relaying each token: ` +
        'CPU µs/req over the token count (under load a proxy may read several tokens at once, the floor as much as llmux). ' +
          "TTFB here is under load, and llmux's first byte is the role chunk with the first content token, which it holds back for fallback (the floors relay the role chunk alone at once).",
      '',
      throughputTable(table, 'long'),
      '',
    );
  }
  parts.push('## One request at a time', '', latencyTable(table), '');
  if (semantic) {
    parts.push(
      '## Semantic lookup',
      '',
      `\`bench/semantic.mjs\`: the in-process \`VectorIndex\` (what the memory and Redis cache stores search), embedding call excluded. ` +
        `${semantic.entries.toLocaleString('en')} random unit vectors of ${semantic.dims} dims in one partition (the LSH path; many small partitions are scanned exactly and are faster), ` +
        `${semantic.queries} lookups at threshold ${semantic.threshold}, half of them near-duplicates (cosine 0.97) of a stored vector.`,
      '',
      '| entries | insert ms/entry | lookup p50 ms | lookup p99 ms | max ms | near-duplicates found | false hits |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${semantic.entries.toLocaleString('en')} | ${f(semantic.insertMs, 3)} | ${f(semantic.p50, 3)} | ${f(semantic.p99, 3)} | ${f(semantic.max, 3)} | ${semantic.found}/${semantic.wanted} | ${semantic.falseHits} |`,
      '',
    );
  }
  parts.push('## Targets', '', '| target | limit | measured | met |', '|---|---|---|---|');
  for (const t of targets) parts.push(`| ${t.what} | ${t.limit} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
  parts.push(
    '',
    '## Reading the numbers',
    '',
    '- CPU per request depends on how busy the machine is (other processes share its two cores); compare rows of one run, not runs. ' +
      'Even so, on the 2-core VM these numbers come from, repeated runs moved a row\'s CPU vs floor by up to about ±0.3×: ' +
      'read a single ratio as a range, and measure a change with the A/B tools below rather than with two runs. ' +
      '`node bench/ab.mjs` (in-process, two builds interleaved) and `node bench/ab-http.mjs` (two builds over HTTP) measure one change; ' +
      '`npm run bench -- --profile=<row id>` writes a CPU profile of that row\'s app for `node bench/profile-summary.mjs`; ' +
      '`node bench/promoted.mjs <kind> <features> <mode>` shows what a row\'s app promotes to the old generation, per request and by allocation site ' +
      '(a stream whose objects all got promoted made every scavenge 8–16 ms and cost more CPU than the gateway\'s own work); ' +
      '`node bench/gc-trace.mjs <kind> <features>` counts and times the app\'s young-generation GCs per request; ' +
      '`node bench/alloc.mjs` gives the bytes the gateway allocates per request, by allocating function (in-process).',
    '- A floor forwards bytes; llmux also validates the body, resolves the plan, routes (deadline, breaker, retries), parses the answer for usage and cost, ' +
      'sets the response headers of DESIGN.md and builds one request record (kept in the recent-requests ring even with every sink off, and then redacted only when the ring is read). ' +
      'The row with the default observability adds the pino line per request and Prometheus metrics. ' +
      'Its line goes out through pino\'s own destination, an asynchronous write on libuv\'s thread pool per line: ' +
      'a synchronous `process.stdout` cost 10 µs less per request under this load (`bench/ab-http.mjs`) and 35 µs less in-process with requests one at a time ' +
      '(`MICRO_SINKS=logger MICRO_LOGGER=pino-stdout node bench/.build/micro.js 40000 defaults`), but it crashes the host with EPIPE when a piped stdout\'s reader goes away (see `observability/default-logger.ts`).',
    '- The same gateway code can cost more over the Express floor than over node:http\'s (+294 µs against +163 µs on an Intel Xeon VM; about the same, +93 µs against +108 µs, on an AMD EPYC VM, both on 2026-11-27), through garbage collection: each young-generation GC takes several times longer under Express ' +
      '(`node bench/gc-trace.mjs`: 2.4–2.8 ms against 0.3–0.5 ms under node:http on an Intel Xeon VM; 6.9–9.6 ms against 1.0–1.2 ms on an AMD EPYC VM), so each byte a request allocates costs several times more there. ' +
      'The cause is Express\'s own: with `--trace-gc-nvp`, 37% of what the Express floor allocates survives a scavenge against 1.7% for the node:http floor, and `node bench/promoted.mjs express-floor off json` ' +
      'shows the floor alone promoting 13 KB per request, mostly from Express\'s router (llmux on node:http promotes 1.4 KB; llmux under Express 15–16 KB on one AMD EPYC VM, 13.5 KB against the floor\'s 12.6 KB on a faster one): objects live on past their request there, and what a request holds is copied and promoted with them. ' +
      'Part of it is hidden classes: Express 5 swaps the prototype of every `req` and `res`, and each gets a hidden class of its own (`%HaveSameMap` is false from one request to the next), ' +
      'so every place that reads them misses V8\'s inline caches once per request (timed on 2026-11-28 on an AMD EPYC VM: 20 reads of `req` and `res` in an Express 5 middleware took 4.5 µs a request, ~0.2 µs a read — a few µs a request for all the places the adapter reads them, not the tens of µs llmux costs more under Express than under node:http), and a property added to them builds a whole new hidden class (~5 µs). ' +
      'The adapters add none. ' +
      'V8\'s GC settings do not change it (`EXTRA_APP_FLAGS=... node bench/gc-trace.mjs`, 2026-11-28, AMD EPYC VM): with `--max-semi-space-size=64` the scavenges came 4× less often and each took 4× longer ' +
      '(33.9 against ~9 ms), the GC per request unchanged (Express floor 31.7 µs, llmux under Express 36.1 µs, against 33.5 and 42.6 by default) — what survives grows with the young generation, as objects kept alive by others that died after their promotion do; ' +
      '`--single-threaded-gc` (the app has one core; V8\'s parallel scavenge helpers share it) took no less (38.8 and 45.3 µs).',
    '- Time to first byte one request at a time includes two extra loopback legs (client → proxy, proxy → client) and everything a proxy does before relaying. ' +
      '`node bench/ttfb-legs.mjs` times each step of the floor proxy on one clock. On an Intel Xeon VM the two legs took 0.10 and 0.08 ms and the proxy\'s own work 0.04 ms; ' +
      'on an AMD EPYC VM each leg took 0.22–0.24 ms, so there the issues\' "≤ 0.3 ms over direct" could not be met by any proxy process. The column "TTFB over its floor" is what llmux itself adds; ' +
      '`ttfb-legs.mjs` times llmux on node:http leg by leg beside the floor: on an AMD EPYC VM (2026-11-28) its 0.25 ms over the floor were 0.10 ms before the upstream call (the floor reads the body; llmux also parses, validates, plans and routes), ' +
      '0.03 ms on the upstream leg, 0.08 ms from the upstream\'s head to the first chunk written (the first batch read, decoded and translated, held until it carries content, the response headers) and 0.03 ms on the way back (a larger head) — ' +
      'code run cold between requests one at a time, several times its cost under load (the whole request is ~31 µs of CPU in-process, `bench/micro.mjs`).' +
      " One at a time, every proxy costs several times its CPU under load, and llmux with features more so (2026-11-28, five apps taking turns every 4 requests after 30,000 warm-up requests each, the app's CPU per request read around each turn: Express floor 785 µs, llmux 1085, with budgets + limits 1492, with the default log and metrics 1601 — under load 234, 282, 324 and 336): each turn runs on a core that sat idle, its caches holding the other apps' code, and a longer code path pays more there. That, not waiting, is why the feature rows' first byte comes 0.5–0.9 ms after their floor's one at a time (llmux without them: 0.1–0.3 ms; 2026-11-28 runs) while under load those features cost tens of µs; it shows in the interleaved order as it did in blocks of 40 requests. It shows in-process too, without sockets (`MICRO_GAP_MS=2 node bench/.build/micro.js`, pinned, 2026-11-28, an AMD EPYC VM): a request that costs 52 µs back to back cost 139 µs after a 2 ms busy wait and 270–284 µs after a 2 ms sleep, and budgets + limits or a cache miss added ~50 µs to it there against 13–15 µs back to back; a compact workload of the same cost back to back (a 1 KB JSON text parsed and serialised four times) went 51 → 98 → 102 µs. The more code a request runs, the more it pays for running cold; a CPU profile of the cold runs spreads the extra time over every function alike, no one of them standing out.",
    '- The `finishAfterResponse` row answers before its settlement, cache write and record, which then take their Redis round trip while the client already has the answer. ' +
      'One request at a time, a non-stream request\'s whole time falls (by 0.9 ms in the 2026-11-28 run; a separate check alternating the two configurations, 300 requests each, gave 0.2–0.4 ms). ' +
      'A stream\'s time to first byte cannot gain (the saving lands at its end); its rise in that run did not reproduce in the alternating check (the two within 0.2 ms of each other, either way), so read it as this table\'s spread. ' +
      'Under load it changes CPU little: the work is the same, done later.',
    '',
  );
  const soak = currentSoakSection();
  return soak ? `${parts.join('\n')}\n${soak}\n` : `${parts.join('\n')}\n`;
}
