export { abortSignalFor } from './abort-signal.js';
export { writeResponse } from './write-response.js';
export { bodyFor } from './read-body.js';
export { gatewayPath } from './mount-path.js';
