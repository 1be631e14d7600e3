import { describe, expect, it } from 'vitest';
import { chatCertainlyValid } from '../../src/http/chat-fast-check.js';
import { chatSchema, validateChat } from '../../src/http/validate.js';

/** Values of every JSON type (and a few that only direct calls can send), to put in any field. */
const ODD: unknown[] = [
  undefined, null, true, false, 0, -1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '', 'x', 'user',
  [], ['x'], [1], [{}], [{ type: 'text' }], [{ type: 1 }], [null], {}, { type: 'text' }, { name: '' }, { name: 'f' },
  { include_usage: true }, { include_usage: 'yes' }, { name: 'f', arguments: '{}' }, [[]],
];

let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;

const valid = () => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'data:' } }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'ok' },
  ],
  stream: true,
  stream_options: { include_usage: true },
  temperature: 0.2,
  top_p: 1,
  max_tokens: 100,
  max_completion_tokens: 100,
  n: 1,
  stop: ['\n'],
  tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
  unknown_field: { kept: true },
});

/** Paths into the valid body where a wrong value is most telling. */
const PATHS: Array<Array<string | number>> = [
  ['model'], ['messages'], ['messages', 0], ['messages', 0, 'role'], ['messages', 1, 'content'], ['messages', 1, 'content', 0],
  ['messages', 1, 'content', 0, 'type'], ['messages', 2, 'tool_calls'], ['messages', 2, 'tool_calls', 0], ['messages', 2, 'tool_calls', 0, 'id'],
  ['messages', 2, 'tool_calls', 0, 'type'], ['messages', 2, 'tool_calls', 0, 'function'], ['messages', 2, 'tool_calls', 0, 'function', 'name'],
  ['messages', 2, 'tool_calls', 0, 'function', 'arguments'], ['messages', 3, 'tool_call_id'], ['stream'], ['stream_options'],
  ['stream_options', 'include_usage'], ['temperature'], ['top_p'], ['max_tokens'], ['max_completion_tokens'], ['n'], ['stop'], ['stop', 0],
  ['tools'], ['tools', 0], ['tools', 0, 'type'], ['tools', 0, 'function'], ['tools', 0, 'function', 'name'], ['unknown_field'],
];

function set(body: Record<string, unknown>, path: Array<string | number>, value: unknown): void {
  let at: any = body;
  for (const key of path.slice(0, -1)) {
    if (typeof at !== 'object' || at === null) return;
    at = at[key];
  }
  if (typeof at !== 'object' || at === null) return;
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

describe('chat fast check', () => {
  it('accepts the common valid bodies without zod', () => {
    expect(chatCertainlyValid(valid())).toBe(true);
    expect(chatCertainlyValid({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toBe(true);
  });

  it('never accepts a body the zod schema refuses (5000 seeded mutations)', () => {
    let refusedBySchema = 0;
    for (let i = 0; i < 5000; i++) {
      const body = valid() as Record<string, unknown>;
      const edits = 1 + Math.floor(rand() * 3);
      for (let e = 0; e < edits; e++) set(body, pick(PATHS), structuredClone(pick(ODD)));
      const schemaOk = chatSchema.safeParse(body).success;
      if (!schemaOk) refusedBySchema++;
      if (chatCertainlyValid(body)) expect({ body, schemaOk }).toEqual({ body, schemaOk: true });
    }
    // The mutations must really exercise refusals, or the property above says nothing.
    expect(refusedBySchema).toBeGreaterThan(2000);
  });

  it('refusals keep the schema\'s wording', () => {
    const body = valid();
    (body.messages[1] as { content: unknown }).content = [{ type: 1 }];
    expect(() => validateChat(body, 100)).toThrow(/messages\.1\.content|messages\[1\]\.content/);
    expect(() => validateChat({ model: 'm', messages: [] }, 100)).toThrow(/messages must contain at least one message/);
    expect(() => validateChat({ model: 'm', messages: Array.from({ length: 3 }, () => ({ role: 'user', content: 'x' })) }, 2)).toThrow(
      'messages has 3 entries; the limit is 2',
    );
  });
});
