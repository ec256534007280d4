/**
 * Leader changes from one read plus one prefix watch. We keep the whole queue
 * (key → create revision, value; in a priority election the record too) and
 * apply every event to it, so the leader after each revision is exact,
 * whatever was deleted or added — Go's Observe follows only the leader's key
 * and ends silently on errors.
 *
 * Restarts resume from the revision after the last one applied, so nothing
 * is skipped or repeated. If that revision has been compacted away, we re-read
 * the queue and go on from the read: the changes inside the compacted window
 * are gone from the server, so the observer sees the leader as of the read
 * (and nothing twice, because we only yield when the leader differs from the
 * last one yielded). Errors retrying cannot fix end the iteration with an
 * ElectError — never silently.
 */
import { isElectError, type LeaderInfo, Backoff } from '@elect/core';
import { Channel, sameLeader } from '@elect/core/backend';
import { isTransient, toElectError } from './errors.js';
import type { ElectionKV, ElectionScope, Entry } from './kv.js';
import { leaderOf, readingOf } from './priority.js';
import { CompactedError, watch } from './watch.js';

/** A stream of leaders: the current one first, then each change once, in order. */
export function observeLeaders(ctx: ElectionScope, signal: AbortSignal | undefined, ended: () => void = () => {}): Channel<LeaderInfo | undefined> {
  const stop = new AbortController();
  const channel = new Channel<LeaderInfo | undefined>({
    signal,
    onEnd: () => {
      stop.abort();
      ended();
    },
  });
  void follow(ctx, channel, stop.signal).catch((error: unknown) => channel.fail(isElectError(error) ? error : toElectError(error, 'observe')));
  return channel;
}

async function follow(ctx: ElectionScope, channel: Channel<LeaderInfo | undefined>, stop: AbortSignal): Promise<void> {
  let last: { leader: LeaderInfo | undefined } | undefined;
  const emit = (leader: LeaderInfo | undefined): void => {
    if (last !== undefined && sameLeader(last.leader, leader)) return;
    last = { leader };
    channel.push(leader);
  };
  while (!stop.aborted) {
    const read = await readQueue(ctx, stop);
    if (read === undefined) return;
    const queue = new Map<string, Entry>(read.entries.map((e) => [e.key, e]));
    emit(leaderAt(ctx, read.revision, queue));
    try {
      const range = ctx.keys.prefixRange(ctx.kv.prefix);
      for await (const batch of watch(ctx, { key: range.key, rangeEnd: range.range_end, fromRevision: read.revision + 1n, signal: stop })) {
        for (const event of batch.events) {
          const key = ctx.keys.local(event.key);
          if (!ctx.kv.isCandidate(key)) continue; // a nested election's key
          if (event.type === 'delete') queue.delete(key);
          else queue.set(key, { key, createRevision: event.createRevision, modRevision: event.modRevision, value: event.value.toString(), lease: event.lease });
        }
        emit(leaderAt(ctx, batch.revision, queue));
      }
      return; // stopped
    } catch (error) {
      if (!(error instanceof CompactedError)) throw error;
      ctx.logger.info({ event: 'observe-compacted', compactRevision: String(error.compactRevision) }, 'observed revisions were compacted; re-reading the queue');
    }
  }
}

/** The queue, retrying while the failure is transient; undefined once stopped. */
async function readQueue(ctx: ElectionScope, stop: AbortSignal): Promise<Awaited<ReturnType<ElectionKV['list']>> | undefined> {
  const backoff = new Backoff({ maxMs: 1000 });
  for (;;) {
    if (stop.aborted) return undefined;
    try {
      return await ctx.kv.list();
    } catch (error) {
      if (!isTransient(error)) throw error;
    }
    try {
      await backoff.wait(ctx.clock, stop);
    } catch {
      return undefined;
    }
  }
}

/** The leader as of `revision`, in either layout (a priority election's record and request are in the queue too). */
function leaderAt(ctx: ElectionScope, revision: bigint, queue: Map<string, Entry>): LeaderInfo | undefined {
  return leaderOf(readingOf(ctx.kv, revision, [...queue.values()]));
}
