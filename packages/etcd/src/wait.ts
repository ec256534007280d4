/**
 * Waiting for our turn, Go's `waitDeletes` with its flaw fixed: read the
 * candidate just ahead of us, watch only that key for deletion (from the
 * revision after the read), and loop. One leadership change wakes one
 * waiter — no herd. Every read also checks that our own key still exists,
 * created by us, on our lease; Go's Campaign never re-checks and can declare
 * a candidate leader whose key is gone.
 */
import { Backoff, sleep } from '@elect/core';
import { LogEvent } from '@elect/core/backend';
import { isTransient } from './errors.js';
import type { ElectionKV, ElectionScope, Entry } from './kv.js';
import { CompactedError, watch } from './watch.js';

export type Turn =
  /** Nobody is ahead of us and our key is ours, as of `revision`. */
  | { readonly kind: 'first'; readonly revision: bigint }
  /** Our key is gone (deleted, or its lease ended): campaign again with a fresh key. */
  | { readonly kind: 'gone' };

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
    if (!ahead) return { kind: 'first', revision: position.revision };
    await deleted(ctx, ahead, position.revision + 1n, signal);
    signal.throwIfAborted();
    ctx.logger.debug({ event: LogEvent.Wake, key: own.key, predecessor: ahead.key }, 'waiting candidate woke; re-reading the queue');
  }
}

/** Resolves when `entry` is deleted (or the watch cannot tell any more: the caller re-reads either way). */
async function deleted(ctx: ElectionScope, entry: Entry, fromRevision: bigint, signal: AbortSignal): Promise<void> {
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  try {
    for await (const batch of watch(ctx, {
      key: ctx.keys.wire(entry.key),
      fromRevision,
      deletesOnly: true,
      signal: both,
    })) {
      if (batch.events.some((e) => e.type === 'delete')) return;
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
