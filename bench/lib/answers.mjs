// What the benchmark's upstream answers, shared by the mock upstream server and the in-process micro
// bench so both measure the same bytes: a short completion, and a stream of one word per chunk.
const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini' };
const words = 'Hello there , this is a streamed answer from the benchmark upstream .'.split(' ');

export const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
});

/** The SSE events of a stream: the role, a chunk per word, the finish. */
export const frames = [
  { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
  ...words.map((w) => ({ ...base, choices: [{ index: 0, delta: { content: w + ' ' }, finish_reason: null }] })),
  { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
].map((f) => `data: ${JSON.stringify(f)}\n\n`);

/** The usage event a stream ends with when the request asked for `stream_options.include_usage`. */
export const usageFrame = `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 } })}\n\n`;

/** The content frame of token `i` of a long stream (the words again and again). */
export const tokenFrame = (i) => frames[1 + (i % words.length)];
