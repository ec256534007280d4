/**
 * What an election needs from its connection: the current session and the
 * next one. The connection (connection.ts) implements it
 * and makes elections; elections, candidates and observers know only this.
 */
import type { ResolvedOptions } from './options.js';
import type { Session } from './session.js';

export interface SessionSource {
  readonly options: ResolvedOptions;
  /** The current session, or undefined between one ending and the next opening. */
  readonly current: Session | undefined;
  /**
   * A live session: the current one, or the next one once it opens. Rejects
   * with `ClosedError` after close, with the signal's reason on abort, and
   * with `TimeoutError` after `timeoutMs` when given.
   */
  session(signal?: AbortSignal, timeoutMs?: number): Promise<Session>;
}
