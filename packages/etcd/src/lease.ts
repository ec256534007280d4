/**
 * Granting and revoking leases without leaving any behind.
 *
 * A grant whose answer is lost may still have created the lease. We choose
 * each attempt's lease id ourselves (etcd accepts a requested id), so every
 * uncertain attempt names a lease we can revoke later: the reaper retries
 * those revokes in the background until etcd confirms them, and once more,
 * briefly, when the connection closes. The same goes for a session given up
 * at its loss deadline: its lease may still live on the server, holding keys
 * that would block the queue until the TTL runs out.
 */
import { randomBytes } from 'node:crypto';
import { type Clock, type Logger, Backoff } from '@elect/core';
import type { Endpoints } from './endpoints.js';
import { isLeaseExists, isLeaseNotFound, neverSent } from './errors.js';
import { leaseHex } from './keys.js';

/** A random positive int63 (etcd refuses 0 and negative ids). */
export function newLeaseId(): string {
  const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
  return id === 0n ? newLeaseId() : id.toString();
}

export interface Granted {
  leaseId: string;
  /** When the successful grant was sent: the server started the TTL no earlier. */
  sentAt: number;
}

/**
 * One grant attempt with a fresh id; on failure the id goes to the reaper (the
 * lease may exist even though we got no answer). `until` (on `clock`) cuts
 * the call's deadline short, for `connectTimeoutMs`.
 */
export async function grantOnce(endpoints: Endpoints, ttlSeconds: number, clock: Clock, reaper: LeaseReaper, until?: number): Promise<Granted> {
  const leaseId = newLeaseId();
  const sentAt = clock.now();
  // The call's deadline is the operation timeout, or less when `until` is nearer.
  const timeoutMs = until === undefined ? undefined : Math.max(1, until - sentAt);
  let attempts = 0;
  try {
    await endpoints.unary('lease grant', async (client) => {
      attempts += 1;
      try {
        return await client.leaseGrant({ TTL: ttlSeconds, ID: leaseId }, timeoutMs);
      } catch (error) {
        // A retry of ours whose earlier attempt was applied, answer lost: the
        // id is a random 63-bit number of our choosing, so the lease is ours.
        // Its TTL started no earlier than the first attempt was sent.
        if (attempts > 1 && isLeaseExists(error)) return undefined;
        throw error;
      }
    });
    return { leaseId, sentAt };
  } catch (error) {
    if (!neverSent(error)) reaper.add(leaseId);
    throw error;
  }
}

/** Revokes once (within `budgetMs` if given); a lease that is already gone counts as revoked. */
export async function revokeOnce(endpoints: Endpoints, leaseId: string, budgetMs?: number): Promise<void> {
  try {
    await endpoints.unary('lease revoke', (client) => client.leaseRevoke({ ID: leaseId }, budgetMs));
  } catch (error) {
    if (isLeaseNotFound(error) || isLeaseNotFound((error as { cause?: unknown }).cause)) return;
    throw error;
  }
}

export class LeaseReaper {
  private readonly pending = new Set<string>();
  private running = false;
  private stopped = false;

  constructor(
    private readonly endpoints: Endpoints,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** The revoke in flight per lease: a second one sent meanwhile would be a second write for etcd to commit. */
  private readonly inflight = new Map<string, Promise<void>>();
  /** Leases to revoke, as far as we know. */
  get size(): number {
    return this.pending.size;
  }

  add(leaseId: string): void {
    if (this.stopped) return;
    this.pending.add(leaseId);
    if (!this.running) void this.run();
  }

  /** A last attempt at everything still pending, within `budgetMs`; then stops. */
  async flush(budgetMs: number): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.pending].map(async (id) => {
        // A revoke already in flight is awaited, not sent again beside it (a
        // second write for etcd to commit); if it failed, this is one more try.
        await this.inflight.get(id);
        await this.revoke(id, budgetMs);
      }),
    );
  }

  private async run(): Promise<void> {
    this.running = true;
    // At most half a second between rounds: after an outage the abandoned
    // leases' keys block the queue until they are revoked (etcd restores
    // leases on restart), so we must not be asleep when the server returns.
    const backoff = new Backoff({ initialMs: 100, maxMs: 500 });
    while (!this.stopped && this.pending.size > 0) {
      const before = this.pending.size;
      for (const id of [...this.pending]) await this.revoke(id);
      if (this.pending.size === 0 || this.stopped) break;
      if (this.pending.size < before) backoff.reset();
      await backoff.wait(this.clock);
    }
    this.running = false;
  }

  /** Revokes `leaseId` if it is still pending; joins the attempt in flight, if there is one. */
  private revoke(leaseId: string, budgetMs?: number): Promise<void> {
    if (!this.pending.has(leaseId)) return Promise.resolve();
    let attempt = this.inflight.get(leaseId);
    if (!attempt) {
      attempt = this.attempt(leaseId, budgetMs).finally(() => this.inflight.delete(leaseId));
      this.inflight.set(leaseId, attempt);
    }
    return attempt;
  }

  private async attempt(leaseId: string, budgetMs: number | undefined): Promise<void> {
    try {
      await revokeOnce(this.endpoints, leaseId, budgetMs);
      this.pending.delete(leaseId);
      this.logger.debug({ event: 'lease-revoked', lease: leaseHex(leaseId) }, 'revoked a lease we no longer use');
    } catch (error) {
      this.logger.debug({ event: 'lease-revoke-failed', lease: leaseHex(leaseId), err: String(error) }, this.stopped ? 'etcd expires it at its TTL' : 'will retry');
    }
  }
}
