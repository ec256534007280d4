/**
 * What an in-memory election needs from its connection, and what the
 * connection tells it. The connection (connection.ts) implements it and
 * makes elections; elections (election.ts, campaign.ts, observe.ts) know
 * only this, so neither side imports the other.
 */
import type { Clock } from '../clock.js';
import type { Liveness } from '../liveness.js';
import type { Logger } from '../logger.js';
import type { Sink, Store } from './store.js';

/** One session as the client sees it: its id and core's `Liveness`, which ends once, when the client learns or decides it is gone. */
export interface ClientSession {
  readonly id: number;
  readonly liveness: Liveness;
}

/** What a connection tells the elections built on it. */
export type ConnectionEvent =
  | { readonly type: 'session' }
  /** The session ended on its own; its leaderships have already been lost (they follow its `Liveness`). */
  | { readonly type: 'session-lost' }
  | { readonly type: 'suspended'; readonly deadline: number }
  | { readonly type: 'resumed' }
  | { readonly type: 'resync' }
  | { readonly type: 'closed' };

export interface ConnectionLink {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The live session, if any. */
  readonly session: ClientSession | undefined;
  readonly isClosed: boolean;
  /** Delivers a server notification unless the network is cut. */
  readonly deliver: Sink;
  /** Subscribes to connection events; returns the unsubscribe function. */
  on(listener: (event: ConnectionEvent) => void): () => void;
  /** One request: runs on the server now, its answer arrives asynchronously. */
  call<T>(request: (store: Store) => T): Promise<T>;
  /** A request whose answer is used at once (watch registration with its initial read). */
  callSync<T>(request: (store: Store) => T): T;
  /** Resolves with the next connection event; rejects when `stop` aborts. */
  nextEvent(stop?: AbortSignal): Promise<ConnectionEvent>;
  /** A live session on a reachable server; waits for one. */
  ready(stop: AbortSignal): Promise<ClientSession>;
  /** The server answered that `session` is gone. */
  sessionExpired(session: ClientSession): void;
}
