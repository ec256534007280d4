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
import { type LossReason, sleep } from '@elect/core';
import { isLeaseNotFound, isTransient } from './errors.js';
import type { ElectionScope, Entry } from './kv.js';
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

  const run = async (): Promise<void> => {
    let from = revision + 1n;
    while (!stop.signal.aborted) {
      try {
        const changes = watch(ctx, { key: ctx.keys.wire(entry.key), fromRevision: from, deletesOnly: true, signal: stop.signal });
        for await (const batch of changes) {
          if (batch.events.some((e) => e.type === 'delete')) return await decide();
        }
        return; // stopped
      } catch (error) {
        // Compaction or a watch the server refused: look at the key itself, then watch again from that read.
        ctx.logger.debug({ event: 'guard-restart', key: entry.key, err: String(error) }, 'guard watch failed; re-reading our key');
      }
      try {
        const position = await ctx.kv.position(entry.key, entry.createRevision);
        if (position.self?.createRevision !== entry.createRevision) return await decide();
        from = position.revision + 1n;
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
