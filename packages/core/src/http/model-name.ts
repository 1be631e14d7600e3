/**
 * Longer than any model id in use (Bedrock ARNs run to ~120): some providers put the model in the
 * upstream URL, and a name of megabytes costs memory wherever it is kept.
 */
export const MAX_MODEL_LENGTH = 512;
