/**
 * While we lead, our key must exist: if it is deleted, the next candidate may
 * already be taking over — it needs only one read after the same watch event
 * reaches it. So the guard ends leadership the moment it sees the deletion
 * ('deleted'), without a round trip to ask why. Then it asks etcd about our
 * lease: if the lease is gone (revoked, expired), the whole session is over,
 * and ending it ends every other leadership on it with 'session-expired' and
 * sends waiting campaigns to a fresh lease.
 *
 * A guard that can no longer see our key — etcd refuses the read for good
 * (our permission on the prefix was revoked, our password changed) — gives
 * leadership up as if the key were gone: it may be, and nobody would tell us.
 * Transient trouble is the session's business: its deadline covers the
 * connection, and the guard reads again.
 */
import { Backoff, type LossReason, sleep } from '@elect/core';
import { decodeRequest, handoverTarget, preemptor } from '@elect/core/backend';
import { isLeaseNotFound, isTransient } from './errors.js';
import type { ElectionScope, Entry } from './kv.js';
import { idOf, readingOf, type Reading } from './priority.js';
import type { Session } from './session.js';
import { watch } from './watch.js';

/** How long the after-the-fact lease check may take. */
const leaseCheckMs = 1000;

/** Starts guarding `entry` (read at `revision`); returns the function that stops it. */
export function guardKey(ctx: ElectionScope, entry: Entry, revision: bigint, session: Session, lose: (reason: LossReason) => void): () => void {
  const stop = new AbortController();

  const decide = async (blind?: unknown): Promise<void> => {
    if (stop.signal.aborted) return;
    if (blind !== undefined) {
      ctx.logger.warn({ event: 'guard-blind', key: entry.key, err: String(blind) }, 'etcd refuses to show us our key; giving leadership up');
    }
    lose('deleted');
    if ((await leaseAlive(ctx, session.leaseId).catch(() => undefined)) === false) session.expire();
  };

  /** Our key as it is now: gone (or another's), leadership ends. */
  const look = async (): Promise<void> => {
    let now: Entry | undefined;
    try {
      [now] = await retried(ctx, stop.signal, () => ctx.kv.current([entry.key]));
    } catch (error) {
      if (!stop.signal.aborted) await decide(error); // refused for good: blind
      return;
    }
    if (!stop.signal.aborted && now?.createRevision !== entry.createRevision) await decide();
  };

  const run = async (): Promise<void> => {
    let known = revision;
    while (!stop.signal.aborted) {
      try {
        // From `now`: a watch behind the store is served up to 100 ms late
        // (watch.ts). Whether our key went between `known` and the watch,
        // a read once the watch exists tells (always: see wait.ts `changed`).
        const onCreated = (): void => void look();
        const changes = watch(ctx, { key: ctx.keys.wire(entry.key), fromRevision: 'now', deletesOnly: true, signal: stop.signal, onCreated });
        for await (const batch of changes) {
          // A member behind our read (after a switch) replays older events: a deletion of a key of this name before ours was created.
          if (batch.revision <= known) continue;
          if (batch.events.some((e) => e.type === 'delete')) return await decide();
        }
        return; // stopped
      } catch (error) {
        // Compaction (a resumed watch) or a watch the server refused: look at the key itself, then watch again.
        ctx.logger.debug({ event: 'guard-restart', key: entry.key, err: String(error) }, 'guard watch failed; re-reading our key');
      }
      try {
        const position = await ctx.kv.position(entry.key, entry.createRevision);
        if (position.self?.createRevision !== entry.createRevision) return await decide();
        known = position.revision;
      } catch (error) {
        if (!isTransient(error)) return await decide(error);
        // Transient: try again shortly.
      }
      try {
        await sleep(ctx.clock, 200, stop.signal);
      } catch {
        return; // stopped
      }
    }
  };

  void run();
  return () => stop.abort();
}

/** What a priority election's holder is told by `guardRecord`. */
export interface Holder {
  lose(reason: LossReason): void;
  /** Step down for another candidate (core's `yieldTo`). */
  yieldTo(reason: 'preempted' | 'handover', to: string | undefined): void;
}

/**
 * The holder of a priority election's record follows the whole election
 * (one prefix watch from `reading`, applied event by event like `observe`):
 * the record deleted or rewritten after our `token` ends leadership
 * ('deleted'); a waiting candidate that preempts us, or a handover request
 * for our term, makes us yield. A request is deleted (guarded by its
 * revision) whoever it was for: one for another term is stale. Our own key
 * is `guardKey`'s. Returns the function that stops it.
 */
export function guardRecord(ctx: ElectionScope, own: Entry, token: bigint, reading: Reading, holder: Holder): () => void {
  const stop = new AbortController();
  const keys = new Map<string, Entry>();
  const load = (from: Reading): void => {
    keys.clear();
    for (const entry of [...from.entries.map((e) => e.entry), from.record, from.request]) if (entry) keys.set(entry.key, entry);
  };

  /** True once leadership is over (or we yielded): stop following. */
  const check = (at: bigint): boolean => {
    if (stop.signal.aborted) return true;
    const now = readingOf(ctx.kv, at, [...keys.values()]);
    // Before our own write (the take's reading is older), the record is not ours yet.
    if (at < token) return false;
    if (now.record?.modRevision !== token) {
      holder.lose('deleted');
      return true;
    }
    if (preemptor(now.entries, own.key)) {
      holder.yieldTo('preempted', undefined);
      return true;
    }
    if (!now.request) return false;
    void ctx.kv.removeIfUnchanged(now.request).catch(() => {}); // unreachable: the next holder deletes it
    const request = decodeRequest(now.request.value);
    if (request?.token !== token || !handoverTarget(now.entries, own.key, idOf, request.to)) return false;
    holder.yieldTo('handover', request.to);
    return true;
  };

  const run = async (): Promise<void> => {
    load(reading);
    let at = reading.revision;
    const backoff = new Backoff({ maxMs: 1000 });
    while (!check(at)) {
      try {
        // From `now`, as guardKey's; what changed since `at` a reading
        // taken once the watch exists tells, and no event is applied before
        // it (those it already shows are skipped).
        let caughtUp: Promise<void> | undefined;
        const onCreated = (): void => {
          caughtUp = retried(ctx, stop.signal, () => ctx.kv.list()).then(
            (read) => {
              if (read.revision > at) {
                load(readingOf(ctx.kv, read.revision, read.entries));
                at = read.revision;
              }
              check(at);
            },
            () => void (stop.signal.aborted || holder.lose('deleted')), // blind: as guardKey
          );
        };
        const range = ctx.keys.prefixRange(ctx.kv.prefix);
        for await (const batch of watch(ctx, { key: range.key, rangeEnd: range.range_end, fromRevision: 'now', signal: stop.signal, onCreated })) {
          await caughtUp;
          if (batch.revision <= at) continue;
          for (const event of batch.events) {
            const key = ctx.keys.local(event.key);
            if (!ctx.kv.isCandidate(key)) continue; // a nested election's key
            if (event.type === 'delete') keys.delete(key);
            else keys.set(key, { key, createRevision: event.createRevision, modRevision: event.modRevision, value: event.value.toString(), lease: event.lease });
          }
          at = batch.revision;
          if (check(at)) return;
        }
        return; // stopped
      } catch (error) {
        // Compaction (a resumed watch) or a watch the server refused: read the election again, then watch.
        ctx.logger.debug({ event: 'guard-restart', key: ctx.kv.recordKey, err: String(error) }, 'record guard watch failed; re-reading the election');
      }
      for (;;) {
        try {
          await backoff.wait(ctx.clock, stop.signal);
          const { revision, entries } = await ctx.kv.list();
          load(readingOf(ctx.kv, revision, entries));
          at = revision;
          break;
        } catch (error) {
          if (stop.signal.aborted) return;
          if (!isTransient(error)) return holder.lose('deleted'); // blind: as guardKey
        }
      }
    }
  };

  void run();
  return () => stop.abort();
}

/** True while etcd still has the lease; false once it is gone (TTL ≤ 0). */
async function leaseAlive(ctx: ElectionScope, leaseId: string): Promise<boolean> {
  try {
    const res = await ctx.endpoints.pinned().client.leaseTimeToLive({ ID: leaseId }, leaseCheckMs);
    return Number(res.TTL) > 0;
  } catch (error) {
    if (isLeaseNotFound(error)) return false;
    throw error;
  }
}

/**
 * `read`, again after transient trouble (with backoff) until it answers;
 * rejects with an error retrying cannot cure, or the signal's reason.
 */
async function retried<T>(ctx: ElectionScope, signal: AbortSignal, read: () => Promise<T>): Promise<T> {
  const backoff = new Backoff({ maxMs: 1000 });
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (!isTransient(error)) throw error;
      await backoff.wait(ctx.clock, signal);
    }
  }
}
