import { PAGE_MARKUP } from './page-markup.js';
import { SCRIPT_CHAT } from './page-script-chat.js';
import { SCRIPT_CORE } from './page-script-core.js';
import { SCRIPT_USAGE } from './page-script-usage.js';
import { PAGE_STYLE } from './page-style.js';

/** Parts of one script scope: the chat and usage parts call helpers the core part defines. */
const SCRIPT = `(function () {${SCRIPT_CORE}${SCRIPT_CHAT}${SCRIPT_USAGE}
loadInfo();
})();`;

/**
 * The whole playground as one self-contained HTML document. `nonce` is fresh per response and is the
 * only way the inline style and script are allowed to run under the page's Content-Security-Policy.
 */
export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>llmux playground</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${PAGE_STYLE}</style>
</head>
<body>
${PAGE_MARKUP}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Nothing loads from elsewhere and nothing but this page's own script talks to this origin: the
 * page shows spend and may carry the admin key, so it refuses framing and outside scripts.
 */
export function pageHeaders(nonce: string, traceId: string): Record<string, string> {
  return {
    'x-llmux-trace-id': traceId,
    'x-portkey-trace-id': traceId,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
}
