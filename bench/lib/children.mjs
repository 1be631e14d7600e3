// Child processes of the bench: each server in its own process, so its CPU is its own. Their stdout
// (llmux's default request log, when a row keeps it) goes to /dev/null; stderr stays visible.
import { execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';

const children = new Set();
// A failed run must not leave servers behind (their IPC channels would also keep this process alive).
process.on('exit', () => {
  for (const c of children) c.kill();
});
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (e) => {
    console.error(e);
    process.exit(1);
  });
}

/** Forks `file` and resolves with its first message (`port`: where a server listens). */
export function start(file, argv = [], env = {}, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(file, argv, { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    const onExit = (code) => reject(new Error(`${file} ${argv.join(' ')} exited with ${code} before listening`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve({ child, port: m?.port, message: m });
    });
  });
}

let nextId = 0;

/**
 * Asks a child started by `start` for something (`stats`: `{ cpu, rss, heap }`; the soak app also
 * knows `gc` and `snapshot`) and resolves with its answer; ids keep concurrent asks apart.
 */
export function ask(child, op, extra = {}) {
  const id = ++nextId;
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m?.id !== id) return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.send({ op, id, ...extra });
  });
}

export const stats = (child) => ask(child, 'stats');

/** CPU µs a child spent between two `stats` samples. */
export const cpuBetween = (a, b) => b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);

/**
 * V8 flags of every app process. Measured CPU per request kept falling for several thousand requests
 * after start-up as V8 optimised more code (node floor: 828 -> 261 µs over eight rounds after 1200
 * warm-up requests); with a 4x lower interrupt budget, functions are optimised sooner and the rounds
 * level off within the bench's time. Interleaving leaves each app idle while the others run; V8 then
 * shrinks its heap (the memory reducer: the next round starts with a small young generation and
 * scavenges far more often) and flushes bytecode it has not run lately, so the code-heavier apps paid
 * a fresh warm-up in every round (Express floor 644–1825 µs across the rounds of one run). Both are
 * turned off. Every app gets the same flags: a server under steady traffic has long reached that
 * state and never idles.
 *
 * `EXTRA_APP_FLAGS="<v8 flags>"` adds flags for every app the A/B tools start (`ab-http.mjs`,
 * `gc-trace.mjs`, …), to try a V8 setting on both sides of a comparison (for run.mjs: `--app-flags`).
 */
export const APP_FLAGS = ['--interrupt-budget=16384', '--no-memory-reducer', '--no-flush-bytecode', ...(process.env.EXTRA_APP_FLAGS?.split(' ').filter(Boolean) ?? [])];

/**
 * With two or more cores (and `taskset`), apps run on the last core and everything else — the load
 * generator, the mock upstream, Redis' client side — on the others. Only one app is loaded at a time,
 * so it has its core to itself: preemption by the load generator and the upstream no longer lands in
 * some rounds and not others, which moved one row's CPU vs floor by ±0.3× between runs. Without
 * either (or `enabled` false) the pins do nothing and `description` is undefined.
 */
export function corePinning(enabled = true) {
  const on =
    enabled &&
    cpus().length >= 2 &&
    (() => {
      try {
        execFileSync('taskset', ['-V'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
  const appCore = String(cpus().length - 1);
  const otherCores = `0-${cpus().length - 2}`;
  const pin = (pid, cores) => on && execFileSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
  return {
    pinApp: (pid) => pin(pid, appCore),
    pinOther: (pid) => pin(pid, otherCores),
    description: on ? `apps on core ${appCore}, load generator and upstream on ${otherCores}` : undefined,
  };
}
