/**
 * Waiting for our turn, Go's `waitDeletes` with its flaw fixed: read the
 * candidate just ahead of us, watch only that key for deletion (from when
 * the watch exists, and a read then covers the moments since the first;
 * see `changed`), and loop. One leadership change wakes one
 * waiter — no herd. Every read also checks that our own key still exists,
 * created by us, on our lease; Go's Campaign never re-checks and can declare
 * a candidate leader whose key is gone.
 */
import { Backoff, sleep, whenAborted, type MixedLayoutError } from '@elect/core';
import { LogEvent, behind, encodeRecord, linkSignals, mixedLayout, priorityStep, takenOver } from '@elect/core/backend';
import { isTransient } from './errors.js';
import type { ElectionKV, ElectionScope, Entry } from './kv.js';
import { ranked, readingOf, recordOf, type Reading } from './priority.js';
import { CompactedError, watch } from './watch.js';

export type Turn =
  /** Nobody is ahead of us and our key is ours, as of `revision`. */
  | { readonly kind: 'first'; readonly revision: bigint }
  /** Our key is gone (deleted, or its lease ended): campaign again with a fresh key. */
  | { readonly kind: 'gone' }
  /** The election has the other layout (plain vs. priority): withdraw and reject with `error`. */
  | { readonly kind: 'mixed'; readonly error: MixedLayoutError };

/** A priority campaign's turn: we lead with `token` (the record's), per `reading` (taken at or before the token). */
export type PriorityTurn = { readonly kind: 'lead'; readonly token: bigint; readonly reading: Reading } | Exclude<Turn, { kind: 'first' }>;

/** Resolves with our turn; rejects with the signal's reason when it aborts, or with a non-transient error. */
export async function waitForTurn(ctx: ElectionScope, own: Entry, signal: AbortSignal): Promise<Turn> {
  const backoff = new Backoff({ maxMs: 1000 });
  for (;;) {
    signal.throwIfAborted();
    let position: Awaited<ReturnType<ElectionKV['position']>>;
    try {
      position = await ctx.kv.position(own.key, own.createRevision);
    } catch (error) {
      if (!isTransient(error)) throw error;
      await backoff.wait(ctx.clock, signal);
      continue;
    }
    backoff.reset();
    const self = position.self;
    if (!self || self.createRevision !== own.createRevision || self.lease !== own.lease) return { kind: 'gone' };
    const ahead = position.predecessor;
    // A priority election's record or request, or a tagged key older than
    // ours: not ours to join (a newer tagged key refuses itself).
    const entries = ahead ? [ranked(ahead), ranked(self)] : [ranked(self)];
    const mixed = mixedLayout(ctx.kv.name, entries, position.marked || isMark(ctx.kv, ahead) ? { holder: '' } : undefined, own.key);
    if (mixed) return { kind: 'mixed', error: mixed };
    if (!ahead) return { kind: 'first', revision: position.revision };
    await changed(ctx, [{ key: ahead.key, deletesOnly: true }], position.revision, signal);
    signal.throwIfAborted();
    ctx.logger.debug({ event: LogEvent.Wake, key: own.key, predecessor: ahead.key }, 'waiting candidate woke; re-reading the queue');
  }
}

function isMark(kv: ElectionKV, entry: Entry | undefined): boolean {
  return entry?.key === kv.recordKey || entry?.key === kv.requestKey;
}

/**
 * A priority campaign's wait (core's `priorityStep`): read the whole
 * election; lead if the record names us, take it if we are first and nobody
 * holds it, take it over if it is handed to us; else watch the entry just
 * ahead of us in the wait order for its deletion (the first watches the
 * record, for its deletion too), and our own key for a write — a newcomer
 * that sorted in ahead of us, or a handover to us, touches it — and read
 * again. The first reading after joining, and a take-over, touch the
 * candidate just behind us (core's `behind`): it waited on what was ahead of
 * us (or on our key, a holder's now), and now waits on us (or elsewhere).
 */
export async function waitForPriorityTurn(ctx: ElectionScope, own: Entry, signal: AbortSignal): Promise<PriorityTurn> {
  const backoff = new Backoff({ maxMs: 1000 });
  const ours = encodeRecord({ holder: own.key });
  let fresh = true;
  for (;;) {
    signal.throwIfAborted();
    let reading: Reading;
    let token: bigint | undefined;
    let watched: Watched | undefined;
    try {
      const { revision, entries } = await ctx.kv.list();
      reading = readingOf(ctx.kv, revision, entries);
      const self = reading.entries.find((e) => e.key === own.key)?.entry;
      if (!self || self.createRevision !== own.createRevision || self.lease !== own.lease) return { kind: 'gone' };
      const record = recordOf(reading);
      const step = priorityStep(ctx.kv.name, reading.entries, record, own.key);
      if (fresh && (step.kind === 'wait' || step.kind === 'wait-record' || step.kind === 'take')) {
        const next = behind(reading.entries, record, own.key);
        if (next) await ctx.kv.touch(next.entry);
      }
      fresh = false;
      switch (step.kind) {
        case 'gone':
        case 'mixed':
          return step;
        case 'lead':
          return { kind: 'lead', token: reading.record!.modRevision, reading };
        case 'take':
          token = await ctx.kv.take(own, ours);
          break;
        case 'take-over':
          // Our record says how we came to lead (core's `takenOver`).
          token = await ctx.kv.takeOver(own, reading.record!.modRevision, encodeRecord(takenOver(own.key, record!)));
          if (token !== undefined) {
            // The candidate behind us waited on our key, a holder's now: it re-reads.
            const next = behind(reading.entries, record, own.key);
            if (next) await ctx.kv.touch(next.entry).catch(() => {}); // unreachable: it wakes when we release
          }
          break;
        case 'wait':
          watched = { key: step.ahead.key, deletesOnly: true };
          break;
        case 'wait-record':
          // Its deletion only: a handover's mark or a take-over wakes nobody
          // but whom it concerns (a handover touches its target's key).
          watched = { key: ctx.kv.recordKey, deletesOnly: true };
          break;
      }
    } catch (error) {
      if (!isTransient(error)) throw error;
      await backoff.wait(ctx.clock, signal);
      continue;
    }
    backoff.reset();
    if (token !== undefined) return { kind: 'lead', token, reading };
    // A take that lost a race: read again at once.
    if (watched === undefined) continue;
    ctx.logger.debug({ event: LogEvent.Waiting, key: own.key, on: watched.key }, 'waiting');
    const self: Watched = { key: own.key, deletesOnly: false };
    const by = await changed(ctx, [watched, self], reading.revision, signal);
    signal.throwIfAborted();
    const touched = by === self ? { touched: true } : {};
    ctx.logger.debug({ event: LogEvent.Wake, key: own.key, predecessor: watched.key, ...touched }, 'waiting candidate woke; re-reading the election');
  }
}

/** A key a waiting candidate watches: for its deletion only, or for any write too. */
interface Watched {
  readonly key: string;
  readonly deletesOnly: boolean;
}

/**
 * Resolves with the first of `keys` that changes as watched after revision
 * `after` (the reading's), or with nothing when a watch cannot tell any more
 * (the caller re-reads either way).
 *
 * The watches start where the store is when etcd creates them, not at
 * `after + 1`: a watch from a revision the store has passed (a write landed
 * between our read and the watch, often the very deletion we wait for) is
 * one etcd serves from a catch-up loop, up to 100 ms late (watch.ts). What
 * changed between the read and the watches, one read of the keys once they
 * exist tells. It is made even when etcd's answer shows no write since our
 * read: etcd takes the revision a watch starts from before it registers
 * the watch, and a write that lands in between (in a quick handoff, the
 * deletion we wait for, 5 in 300 handoffs measured) leaves that watch to
 * the catch-up loop too.
 */
async function changed(ctx: ElectionScope, keys: readonly Watched[], after: bigint, signal: AbortSignal): Promise<Watched | undefined> {
  const local = new AbortController();
  // Released when `local` aborts (below): one per wake must not stay on the campaign's signal.
  const both = linkSignals([signal, local.signal]).signal;
  let uncreated = keys.length;
  let allCreated = (): void => {};
  const created = new Promise<void>((resolve) => (allCreated = resolve));
  const onCreated = (): void => {
    if (--uncreated === 0) allCreated();
  };
  const one = async (watched: Watched): Promise<Watched | undefined> => {
    // Read by hand: leaving a `for await` would tear the watch down before
    // our caller moves on (see `finally`).
    const batches = watch(ctx, { key: ctx.keys.wire(watched.key), fromRevision: 'now', deletesOnly: watched.deletesOnly, signal: both, onCreated })[Symbol.asyncIterator]();
    for (let next = await batches.next(); !next.done; next = await batches.next()) {
      if (next.value.revision <= after) continue; // a member behind our read replays what the read showed
      if (!watched.deletesOnly || next.value.events.some((e) => e.type === 'delete')) return watched;
    }
    return undefined;
  };
  const between = async (): Promise<Watched | undefined> => {
    await created;
    const now = await ctx.kv.current(keys.map((watched) => watched.key));
    const hit = keys.find((watched, i) => changedSince(watched, now[i], after));
    if (hit) return hit;
    await whenAborted(both).promise; // nothing in between: the watches decide
    return undefined;
  };
  const runs = [...keys.map(one), between()];
  for (const run of runs) run.catch(() => {}); // the first to settle decides
  try {
    return await Promise.race(runs);
  } catch (error) {
    // Compaction: the change may be among what was compacted; re-reading settles it.
    if (error instanceof CompactedError) return undefined;
    if (!isTransient(error)) throw error;
    await sleep(ctx.clock, 100, signal);
    return undefined;
  } finally {
    // The watches go (a cancel per stream) once our caller's next read is
    // on the wire: their teardown is not on the way to leading.
    setImmediate(() => local.abort());
  }
}

/** Whether `watched`, present at revision `after`, changed as watched by the time it reads as `now`. */
function changedSince(watched: Watched, now: Entry | undefined, after: bigint): boolean {
  if (!now) return true;
  return (watched.deletesOnly ? now.createRevision : now.modRevision) > after;
}
