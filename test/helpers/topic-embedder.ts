import type { MockReply, RecordedRequest } from './mock-upstream.js';

/**
 * A deterministic embedder for the mock upstream's `/v1/embeddings`: each topic word is its own axis,
 * every other word adds a little on one of 8 hashed axes. "What is Python?" and "Tell me about
 * Python" share the python axis (cosine ≈ 0.97); a question about the weather is orthogonal to both.
 */
const TOPICS = ['python', 'java', 'weather', 'pasta', 'france'];

export function topicVector(text: string): number[] {
  const v = new Array<number>(TOPICS.length + 8).fill(0);
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    const topic = TOPICS.indexOf(word);
    if (topic >= 0) v[topic]! += 1;
    else v[TOPICS.length + ([...word].reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % 8)]! += 0.1;
  }
  return v;
}

/** `upstream.route('/v1/embeddings', topicEmbeddings)` */
export function topicEmbeddings(req: RecordedRequest): MockReply {
  const inputs: string[] = Array.isArray(req.json.input) ? req.json.input : [req.json.input];
  return {
    json: {
      object: 'list',
      model: req.json.model,
      data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: topicVector(text) })),
      usage: { prompt_tokens: 5, total_tokens: 5 },
    },
  };
}
