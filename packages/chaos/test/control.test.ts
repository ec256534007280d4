/**
 * The control run: the soak with deliberately unsafe candidates — library
 * candidates that ignore the loss of leadership and write on for two TTLs —
 * must be flagged. A checker that passes this has stopped looking.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { scaled, startZooKeeper, type Cluster } from '@elect/test';
import { soak } from '../src/index.js';

jest.setTimeout(scaled(120_000));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startZooKeeper({ size: 1 });
});
afterAll(async () => {
  await cluster?.close();
});

describe('the soak, with candidates that keep writing after a loss', () => {
  it('flags their overlaps; the store fences off their late writes', async () => {
    const ttlMs = 2_000;
    const result = await soak({
      backend: 'zk',
      cluster,
      addresses: cluster.members.map((m) => m.clientAddress),
      ttlMs,
      transitions: 3,
      kinds: ['cut-long'],
      libraries: 2,
      runs: 0,
      writeEveryMs: 20,
      unsafeMs: 2 * ttlMs,
    });
    const kind = result.verdict.kinds.find((k) => k.kind === 'cut-long');
    expect(kind?.faults).toBe(3);
    // Every cut moved leadership, and each time the old leader wrote on.
    expect(kind?.overlaps).toBeGreaterThanOrEqual(3);
    // The longest is about the two TTLs they write on, less the time the server takes to expire them.
    expect(Math.max(...result.verdict.overlaps.map((o) => o.ms))).toBeGreaterThan(ttlMs);
    // The store's fencing turned away what they wrote once the next leader had written.
    expect(kind?.staleRejected).toBeGreaterThan(0);
    expect(result.verdict.violations).toContainEqual(expect.stringMatching(/overlap\(s\) of two leaders/));
    // Unsafe or not, they leave nothing behind.
    expect(result.leftovers).toEqual({ entries: [], leases: [] });
  });
});
