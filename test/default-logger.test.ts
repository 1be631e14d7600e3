import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { createGateway } from '@llmux/core';

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

  it('writes through process.stdout, so a host capturing it (a test runner, a log shipper) sees the line', async () => {
    const saved = process.env.LLMUX_LOG_LEVEL;
    delete process.env.LLMUX_LOG_LEVEL;
    const gw = createGateway({ config: { targets: [{ provider: 'mock' }] } });
    // Captured only after the gateway was made, as a host or runner that patches stdout later does
    // (pino itself picks process.stdout when it finds it patched at creation).
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const res = await gw.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
      expect(res.status).toBe(200);
      // The record is written once the log queue delivers it, on a later turn of the event loop.
      await vi.waitFor(() => expect(written.join('')).toContain('llmux request'));
    } finally {
      await gw.close(100);
      write.mockRestore();
      if (saved !== undefined) process.env.LLMUX_LOG_LEVEL = saved;
    }
    const line = JSON.parse(written.find((w) => w.includes('llmux request'))!);
    expect(line).toMatchObject({ name: 'llmux', msg: 'llmux request', level: 30, status: 200, route: 'chat' });
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
});
