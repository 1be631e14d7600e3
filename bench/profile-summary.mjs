// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile=<row id>`):
// self time per function (mapped back to the llmux sources through the bundle's source maps), then
// per source file or package, top first.
//   node bench/profile-summary.mjs <file.cpuprofile> [top=40] [filter]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const [file, top = '40', filter] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const maps = new Map();

function sourceMapFor(url) {
  if (!maps.has(url)) {
    const path = url.startsWith('file://') ? fileURLToPath(url) : url;
    maps.set(url, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null);
  }
  return maps.get(url);
}

/** `where` = original file for bundled llmux code, the package for node_modules, else the URL. */
function locate(f) {
  const map = f.url.includes('/bench/.build/') ? sourceMapFor(f.url) : null;
  if (map) {
    const e = map.findEntry(f.lineNumber, f.columnNumber);
    if (e?.originalSource) {
      const src = e.originalSource.replace(/^.*?\/(packages|bench)\//, '$1/');
      return { where: src, line: e.originalLine + 1 };
    }
  }
  const pkg = f.url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return { where: pkg[1], line: f.lineNumber + 1, file: f.url.replace(/^.*node_modules\//, '') };
  if (f.url.startsWith('node:')) return { where: f.url.replace(/^node:internal\//, 'node:'), line: f.lineNumber + 1 };
  return { where: f.url || '(native)', line: f.lineNumber + 1 };
}

const self = new Map();
const inclusive = new Map();
const byWhere = new Map();
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const keyOf = (f) => {
  const loc = locate(f);
  return { key: `${f.functionName || '(anonymous)'}  ${loc.file ?? loc.where}:${loc.line}`, loc };
};
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const f = byId.get(profile.samples[i]).callFrame;
  const us = profile.timeDeltas[i] ?? 0;
  total += us;
  const { key, loc } = keyOf(f);
  self.set(key, (self.get(key) ?? 0) + us);
  byWhere.set(loc.where, (byWhere.get(loc.where) ?? 0) + us);
  // Inclusive time: every distinct function on the sample's stack (async callers are not on it).
  const seen = new Set();
  for (let id = profile.samples[i]; id !== undefined; id = parentOf.get(id)) {
    const k = keyOf(byId.get(id).callFrame).key;
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}
const print = (entries) => {
  for (const [k, us] of entries) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
};
const keep = ([k]) => !filter || k.includes(filter);
console.log('--- self time by function');
print([...self].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, Number(top)));
console.log('--- inclusive time by function (synchronous callers only)');
print([...inclusive].filter(keep).filter(([k]) => !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, Number(top)));
console.log('--- self time by source file / package');
print([...byWhere].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, Number(top)));
console.log(`total ${(total / 1000).toFixed(0)} ms`);
