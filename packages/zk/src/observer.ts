/**
 * Watching who leads: a children watch on the latch path plus a data watch
 * on the first node, re-read after every wake. Each distinct reading is
 * reported once (`sameLeader`), so a reconnect or a fresh session — after
 * which we simply read again — neither repeats nor invents a change.
 *
 * Only observers (and `events()` subscribers) hold these watches; waiting
 * candidates watch their predecessor alone.
 */
import { type Clock, ElectError, type LeaderInfo, type Logger, Backoff } from '@elect/core';
import { sameLeader } from '@elect/core/backend';
import type { SessionSource } from './source.js';
import { SessionEndedSignal, isRetryable, onSession } from './create.js';
import { toElectError } from './errors.js';
import { readLeader } from './queue.js';
import { Wake } from './wake.js';

export interface WatchContext {
  readonly source: SessionSource;
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Calls `report` with the current leader, then with every change, until
 * `stop` aborts. Rejects with an `ElectError` when it cannot go on (e.g. no
 * permission to read the latch path); resolves when stopped.
 */
export async function watchLeader(
  ctx: WatchContext,
  stop: AbortSignal,
  report: (leader: LeaderInfo | undefined) => void,
): Promise<void> {
  let last: { leader: LeaderInfo | undefined } | undefined;
  const backoff = new Backoff({ maxMs: 1000 });
  // One watcher function for the whole watch: the client registers a watch
  // on a path once per function, so re-reading after a wake does not add a
  // second listener for a watch that has not fired yet (a proclaim fires the
  // data watch only; the children watch stays armed). It wakes whichever
  // round is waiting.
  let current: Wake | undefined;
  const watcher = (): void => current?.watcher();
  while (!stop.aborted) {
    let session;
    try {
      session = await ctx.source.session(stop);
    } catch (error) {
      if (stop.aborted) return;
      throw error;
    }
    const wake = new Wake(session, stop);
    current = wake;
    try {
      const leader = await onSession(session, stop, readLeader(session.client, ctx.dir, { children: watcher, leader: watcher }));
      backoff.reset();
      if (!last || !sameLeader(last.leader, leader)) {
        last = { leader };
        report(leader);
      }
    } catch (error) {
      wake.cancel();
      if (stop.aborted) return;
      if (error instanceof SessionEndedSignal || session.isEnded) continue;
      if (!isRetryable(error)) throw error instanceof ElectError ? error : toElectError(error);
      ctx.logger.debug({ event: 'observe-retry', dir: ctx.dir, err: error });
      await backoff.wait(ctx.clock, stop).catch(() => {});
      continue;
    }
    await wake.reason;
  }
}
