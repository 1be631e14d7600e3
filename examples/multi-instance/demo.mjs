// Starts two app instances on one Redis and shows that they share one rate limit and one budget.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const ports = [Number(process.env.PORT_A ?? 3101), Number(process.env.PORT_B ?? 3102)];
// A fresh prefix per run, so every run starts with an untouched budget.
const env = { ...process.env, LLMUX_PREFIX: `llmux-example:${Date.now()}:`, LLMUX_ADMIN_KEY: 'example-admin-key' };
const children = ports.map((port, i) =>
  spawn(process.execPath, ['server.mjs'], { cwd: here, env: { ...env, PORT: String(port), INSTANCE: `instance-${'AB'[i]}` }, stdio: 'inherit' }),
);
const stop = () => children.forEach((c) => c.kill('SIGTERM'));
process.once('SIGINT', stop);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitUntilUp(port) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`instance on port ${port} did not start`);
}

async function ask(i, user) {
  const port = ports[i % 2];
  const res = await fetch(`http://127.0.0.1:${port}/llm/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model: 'any', max_tokens: 40, messages: [{ role: 'user', content: `Request ${i + 1} from ${user}` }] }),
  });
  const body = await res.json();
  const detail =
    res.status === 200
      ? `cost $${res.headers.get('x-llmux-cost')}, ${res.headers.get('x-ratelimit-remaining-requests')} requests left this minute`
      : `${body.error.code}: ${body.error.message}`;
  console.log(`  #${String(i + 1).padStart(2)} ${user.padEnd(6)} → instance ${'AB'[i % 2]} (:${port})  ${res.status}  ${detail}`);
  return res.status;
}

try {
  await Promise.all(ports.map(waitUntilUp));
  console.log('\n1. One rate limit (5 per minute per user) across both instances: alice alternates between them.');
  for (let i = 0; i < 8; i++) await ask(i, 'alice');

  console.log('\n2. One budget ($0.05 per day for the whole gateway): new users until it is spent.');
  for (let i = 0; i < 40; i++) if ((await ask(i, `user${i}`)) === 402) break;

  const usage = await fetch(`http://127.0.0.1:${ports[1]}/llm/usage`, { headers: { authorization: 'Bearer example-admin-key' } }).then((r) => r.json());
  console.log('\n3. GET /llm/usage (admin key) on instance B:');
  for (const b of usage.budgets) console.log(`  budget ${b.scope}: spent $${b.spent.toFixed(4)} of $${b.limit} per ${b.period}, resets ${b.resets_at}`);
  for (const r of usage.rate_limits) console.log(`  rate limit ${r.scope}=${r.scope_value}: ${r.used}/${r.limit} requests in the last ${r.window_seconds}s`);
} catch (err) {
  console.error(err.message, '\nIs Redis running on', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', '?');
  process.exitCode = 1;
} finally {
  stop();
}
