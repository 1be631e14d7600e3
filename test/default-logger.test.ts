import { execFileSync } from 'node:child_process';
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
