// Child processes of the bench: each server in its own process, so its CPU is its own. Their stdout
// (llmux's default request log, when a row keeps it) goes to /dev/null; stderr stays visible.
import { fork } from 'node:child_process';

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
