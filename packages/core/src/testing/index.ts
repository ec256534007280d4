/**
 * `@elect/core/testing`: an in-memory backend that honours the whole election
 * contract — fencing tokens, loss deadlines on an injectable clock, no herd,
 * nothing leaked — so code built on `@elect/core` can be unit-tested without
 * a server, with faults on demand (`expire`, `suspend`, `heal`), and a
 * `ManualClock` to step time by hand.
 *
 * Differences from the real backends, all deliberate: requests made while a
 * connection is suspended reject at once with a retryable `ConnectionError`
 * (a real client would queue or time out); entry keys follow no wire format.
 */
export { ManualClock } from './manual-clock.js';
export { MemoryServer, type MemoryServerOptions } from './server.js';
export type { MemoryConnection } from './connection.js';
export type { MemoryConnectionOptions } from './connection-options.js';
export { signalDependants, signalHolds } from './signals.js';
