import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** Runs a gateway without a `logger` option in a fresh process (the built package) and returns its stdout. */
function run(env: Record<string, string | undefined>, options = '{}') {
  const script = `
    const { createGateway } = require('@llmux/core');
    const gw = createGateway({ config: { targets: [{ provider: 'mock' }] }, ...${options} });
    gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } })
      .then(() => new Promise((r) => setTimeout(r, 50))).then(() => gw.close(100));`;
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return execFileSync(process.execPath, ['-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), env: childEnv as NodeJS.ProcessEnv, encoding: 'utf8' });
}

describe('default logger', () => {
  it('writes one pino line per request to stdout', () => {
    const lines = run({ LLMUX_LOG_LEVEL: undefined }).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ name: 'llmux', msg: 'llmux request', level: 30, status: 200 });
  });

  it('keeps the host running when the reader of its piped stdout goes away (EPIPE stops the logging, not the app)', async () => {
    // A host logging through the default logger, its stdout piped to a reader that closes after the
    // first bytes (`app | head -1`, a log shipper that died). It also writes through process.stdout
    // itself, so stdout is the non-blocking pipe Node makes of it.
    const script = `
      const { createGateway } = require('@llmux/core');
      const gw = createGateway({ config: { targets: [{ provider: 'mock' }] } });
      process.stdout.write('ready\\n');
      const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
      (async () => {
        let ok = 0;
        for (let i = 0; i < 400; i++) {
          const res = await gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body });
          if (res.status === 200) ok++;
          if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        await gw.close(100);
        process.stderr.write('answered ' + ok + '\\n');
      })();`;
    const child = spawn(process.execPath, ['-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, LLMUX_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    // The reader leaves after the first bytes: every later write to the pipe fails with EPIPE.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).toContain('answered 400');
    expect(code).toBe(0);
  });

  it('refuses an unknown LLMUX_LOG_LEVEL at start-up, naming the variable', () => {
    let stderr = '';
    try {
      run({ LLMUX_LOG_LEVEL: 'verbose' });
    } catch (e) {
      stderr = String((e as { stderr?: string }).stderr);
    }
    expect(stderr).toContain('LLMUX_LOG_LEVEL "verbose" is not a log level');
  });

  it('is silent with LLMUX_LOG_LEVEL=silent or logger: false', () => {
    expect(run({ LLMUX_LOG_LEVEL: 'silent' })).toBe('');
    expect(run({ LLMUX_LOG_LEVEL: undefined }, '{ logger: false }')).toBe('');
  });

  describe('lines of the last requests', () => {
    /** Spawns a host running `body` after one request through a default-logger gateway `gw`; resolves with its stdout and exit code. */
    function host(body: string): Promise<{ stdout: string; code: number | null }> {
      const script = `
        const { createGateway } = require('@llmux/core');
        const gw = createGateway({ config: { targets: [{ provider: 'mock' }] } });
        gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } })
          .then(async () => { ${body} });`;
      const child = spawn(process.execPath, ['-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, LLMUX_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      return new Promise((resolve) => child.on('close', (code) => resolve({ stdout, code })));
    }

    it('are written when the app exits as soon as gateway.close() resolves', async () => {
      const { stdout, code } = await host(`await gw.close(100); process.exit(0);`);
      expect(code).toBe(0);
      expect(stdout).toContain('"llmux request"');
    });

    it('are written when the host dies of an uncaught exception', async () => {
      const { stdout, code } = await host(`await new Promise((r) => setImmediate(r)); throw new Error('host bug');`);
      expect(code).not.toBe(0);
      expect(stdout).toContain('"llmux request"');
    });
  });
});
