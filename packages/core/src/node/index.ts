export { abortLinkFor, abortSignalFor, markAnswering } from './abort-signal.js';
export { addTrailers, jsonText, writeResponse } from './write-response.js';
export { bodyFor } from './read-body.js';
export { answerRefusal, bodyRefusedBy, refusedRequest } from './parser-refusals.js';
export { gatewayPath, isGatewayRoute, MountPoints, originForm } from './mount-path.js';
