/**
 * The `anthropic_beta` flags Bedrock documents for Claude (AWS Bedrock User Guide, "Anthropic Claude
 * Messages API" › "Request and Response", `anthropic_beta`). Bedrock refuses any other with 400
 * "invalid beta flag", and clients send first-party-only ones (Claude Code: `oauth-2025-04-20`), so
 * only these of the client's flags go; a target's own `anthropic_beta` is the operator's and goes as set.
 */
export const BEDROCK_BETAS = new Set([
  'computer-use-2024-10-22',
  'computer-use-2025-01-24',
  'computer-use-2025-11-24',
  'token-efficient-tools-2025-02-19',
  'interleaved-thinking-2025-05-14',
  'output-128k-2025-02-19',
  'dev-full-thinking-2025-05-14',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'effort-2025-11-24',
  'tool-search-tool-2025-10-19',
  'tool-examples-2025-10-29',
]);
