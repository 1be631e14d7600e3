export { abortLinkFor, abortSignalFor, markAnswering } from './abort-signal.js';
export { addTrailers, jsonText, writeResponse } from './write-response.js';
export { bodyFor, bodyRefusedBy } from './read-body.js';
export { gatewayPath, isGatewayRoute } from './mount-path.js';
