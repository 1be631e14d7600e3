/**
 * A stop at one of the request's stop sequences, kept on an OpenAI choice beside `finish_reason`
 * ("stop" for both that and a natural end): `stop_sequence` holds the sequence, or null when the
 * provider says it stopped at one without saying which (Bedrock Converse, Cohere). Absent otherwise.
 * `/v1/messages` answers with it (`stop_reason: "stop_sequence"`), as Anthropic clients expect; on
 * `/v1/chat/completions` it is one more field on the choice, as vLLM's `stop_reason` is.
 */
export const STOP_SEQUENCE = 'stop_sequence';

/** The field for a choice, or nothing when the stop was not at a sequence. */
export function stopSequenceField(stoppedAtSequence: boolean, sequence?: unknown): { stop_sequence?: string | null } {
  if (!stoppedAtSequence) return {};
  return { stop_sequence: typeof sequence === 'string' ? sequence : null };
}

/** A stream's finishing chunk with `stop_sequence` on its choice when the stop was at a sequence. */
export function withStopSequence<T extends { chunk: { choices: Array<Record<string, unknown>> } }>(out: T, stoppedAtSequence: boolean, sequence?: unknown): T {
  if (stoppedAtSequence) Object.assign(out.chunk.choices[0]!, stopSequenceField(true, sequence));
  return out;
}

/** What `/v1/messages` says: the sequence named, or — when the provider did not name it — the only one asked for. */
export function stopSequenceOf(choice: Record<string, unknown> | undefined, requested: string[] | undefined): { stopped: boolean; sequence: string | null } {
  if (!choice || !(STOP_SEQUENCE in choice)) return { stopped: false, sequence: null };
  const named = choice[STOP_SEQUENCE];
  if (typeof named === 'string') return { stopped: true, sequence: named };
  return { stopped: true, sequence: requested?.length === 1 ? requested[0]! : null };
}
