/**
 * Waiting for our turn, Go's `waitDeletes` with its flaw fixed: read the
 * candidate just ahead of us, watch only that key for deletion (from the
 * revision after the read), and loop. One leadership change wakes one
 * waiter — no herd. Every read also checks that our own key still exists,
 * created by us, on our lease; Go's Campaign never re-checks and can declare
 * a candidate leader whose key is gone.
 */
import { Backoff, sleep, type MixedLayoutError } from '@elect/core';
import { LogEvent, encodeRecord, mixedLayout, priorityStep, takenOver } from '@elect/core/backend';
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
    // A priority election's record, request or tagged key: not ours to join.
    const mixed = mixedLayout(ctx.kv.name, ahead ? [ranked(ahead)] : [], position.marked || isMark(ctx.kv, ahead) ? { holder: '' } : undefined, false);
    if (mixed) return { kind: 'mixed', error: mixed };
    if (!ahead) return { kind: 'first', revision: position.revision };
    await changed(ctx, ahead.key, position.revision + 1n, true, signal);
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
 * ahead of us in priority order (the first watches the record) for a
 * deletion or a write — a handover's nudge is a write — and read again.
 */
export async function waitForPriorityTurn(ctx: ElectionScope, own: Entry, signal: AbortSignal): Promise<PriorityTurn> {
  const backoff = new Backoff({ maxMs: 1000 });
  const ours = encodeRecord({ holder: own.key });
  for (;;) {
    signal.throwIfAborted();
    let reading: Reading;
    let token: bigint | undefined;
    let watched: string | undefined;
    try {
      const { revision, entries } = await ctx.kv.list();
      reading = readingOf(ctx.kv, revision, entries);
      const self = reading.entries.find((e) => e.key === own.key)?.entry;
      if (!self || self.createRevision !== own.createRevision || self.lease !== own.lease) return { kind: 'gone' };
      const record = recordOf(reading);
      const step = priorityStep(ctx.kv.name, reading.entries, record, own.key);
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
          break;
        case 'wait':
          watched = step.ahead.key;
          break;
        case 'wait-record':
          watched = ctx.kv.recordKey;
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
    await changed(ctx, watched, reading.revision + 1n, false, signal);
    signal.throwIfAborted();
    ctx.logger.debug({ event: LogEvent.Wake, key: own.key, predecessor: watched }, 'waiting candidate woke; re-reading the election');
  }
}

/**
 * Resolves when `key` is deleted — or, unless `deletesOnly`, written — (or
 * the watch cannot tell any more: the caller re-reads either way).
 */
async function changed(ctx: ElectionScope, key: string, fromRevision: bigint, deletesOnly: boolean, signal: AbortSignal): Promise<void> {
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  try {
    for await (const batch of watch(ctx, {
      key: ctx.keys.wire(key),
      fromRevision,
      deletesOnly,
      signal: both,
    })) {
      if (!deletesOnly || batch.events.some((e) => e.type === 'delete')) return;
    }
  } catch (error) {
    // Compaction: the delete may be among what was compacted; re-reading settles it.
    if (error instanceof CompactedError) return;
    if (!isTransient(error)) throw error;
    await sleep(ctx.clock, 100, signal);
  } finally {
    local.abort();
  }
}
