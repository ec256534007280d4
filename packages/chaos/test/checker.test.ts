/**
 * The checker on made-up histories: what it must flag, what it must let
 * pass. Times are in milliseconds here, turned into the store's nanoseconds.
 */
import { describe, expect, it } from '@jest/globals';
import { check, type FaultRecord, type Freeze, type Term } from '../src/index.js';

const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
let serial = 0;

/** A term from `start` to `end` ms, writing every 10 ms (accepted unless listed in `rejected`). */
function term(id: string, token: number, start: number, end: number | undefined, options: { pid?: number; electedAt?: number; writesUntil?: number; rejected?: number[] } = {}): Term {
  const writes = [];
  for (let t = start + 1; t < (options.writesUntil ?? end ?? start + 50); t += 10) writes.push({ at: ns(t), accepted: !(options.rejected ?? []).includes(t) });
  return {
    serial: ++serial,
    id,
    token: BigInt(token),
    electedAt: ns(options.electedAt ?? start),
    pid: options.pid ?? token,
    startAt: ns(start),
    endAt: end === undefined ? undefined : ns(end),
    graceful: true,
    writes,
  };
}

function fault(kind: string, at: number, healedAt: number, failoverAt: number | undefined, recoveredAt: number | undefined, expectTransition = true): FaultRecord {
  return {
    kind,
    leader: 'a',
    at: ns(at),
    healedAt: ns(healedAt),
    failoverAt: failoverAt === undefined ? undefined : ns(failoverAt),
    recoveredAt: recoveredAt === undefined ? undefined : ns(recoveredAt),
    expectTransition,
    forced: kind === 'delete' || kind === 'expire',
  };
}

const base = { freezes: [] as Freeze[], recoveryBoundMs: 4_000, forcedBoundMs: 500, endAt: ns(100_000) };

describe('checker', () => {
  it('a clean handoff: no overlap, no stale write, tokens rising', () => {
    const verdict = check({ ...base, terms: [term('a', 10, 0, 1_000), term('b', 20, 3_000, 4_000)], faults: [fault('kill', 900, 900, 3_001, 3_001)] });
    expect(verdict.violations).toEqual([]);
    expect(verdict.overlaps).toEqual([]);
    expect(verdict.kinds).toEqual([expect.objectContaining({ kind: 'kill', faults: 1, transitions: 1, overlaps: 0, failoverMs: { min: 2_101, median: 2_101, max: 2_101 } })]);
  });

  it('flags two leaders at once, attributed to the fault in progress', () => {
    const verdict = check({ ...base, terms: [term('a', 10, 0, 3_500), term('b', 20, 3_000, 4_000)], faults: [fault('pause', 900, 3_600, 3_001, 3_001)] });
    expect(verdict.overlaps).toEqual([{ older: { id: 'a', token: '10' }, newer: { id: 'b', token: '20' }, ms: 500, excuse: undefined, fault: 'pause' }]);
    expect(verdict.violations[0]).toMatch(/^1 overlap\(s\) of two leaders; the longest 500\.0 ms \(a token 10 with b token 20, during pause\)/);
  });

  it('flags a write accepted after a higher token was elected, even before the new leader wrote', () => {
    // b was elected at 2_990 but its store term starts only at 3_000; a writes at 2_991 and the store takes it.
    const verdict = check({ ...base, terms: [term('a', 10, 0, 2_995), term('b', 20, 3_000, 4_000, { electedAt: 2_990 })], faults: [] });
    expect(verdict.staleWrites).toEqual([{ id: 'a', token: '10', elected: '20', accepted: true, forced: false, fault: undefined }]);
    // The overlap counts from b's own election, not from when the store heard of it.
    expect(verdict.violations).toEqual([
      expect.stringMatching(/^1 overlap\(s\) of two leaders; the longest 5\.0 ms/),
      expect.stringMatching(/^1 stale write\(s\) accepted; the first by a token 10 after token 20/),
    ]);
  });

  it('excuses the overlap of a wholly frozen leader whose stale writes were all fenced off', () => {
    const frozen: Freeze = { pids: [10], from: ns(500), to: ns(5_000) };
    // a frozen from 500 to 5_000 (its term stays open); on waking it writes once at 5_001, rejected.
    const a = term('a', 10, 0, 5_010, { writesUntil: 500 });
    a.writes.push({ at: ns(5_001), accepted: false });
    const verdict = check({ ...base, freezes: [frozen], terms: [a, term('b', 20, 3_000, 6_000)], faults: [fault('pause', 500, 5_000, 3_001, 5_001)] });
    expect(verdict.overlaps).toEqual([expect.objectContaining({ excuse: 'frozen', fault: 'pause' })]);
    expect(verdict.kinds[0]).toMatchObject({ overlaps: 0, overlapsFrozen: 1, staleAccepted: 0, staleRejected: 1 });
    expect(verdict.violations).toEqual([]);
  });

  it('does not excuse a frozen elect whose command ran on (the command is another process)', () => {
    const frozenElect: Freeze = { pids: [999], from: ns(500), to: ns(5_000) };
    const verdict = check({ ...base, freezes: [frozenElect], terms: [term('a', 10, 0, 3_500, { pid: 11 }), term('b', 20, 3_000, 6_000)], faults: [fault('pause', 500, 5_000, 3_001, 3_001)] });
    expect(verdict.overlaps).toEqual([expect.objectContaining({ excuse: undefined })]);
    expect(verdict.violations).toEqual([expect.stringMatching(/^1 overlap/), expect.stringMatching(/^50 stale write\(s\) accepted/)]);
  });

  it('flags a token that does not rise, a fault nobody recovered from, and one that should have moved leadership', () => {
    const verdict = check({
      ...base,
      terms: [term('a', 20, 0, 1_000), term('b', 10, 2_000, 3_000)],
      faults: [fault('kill', 900, 900, undefined, 9_000), fault('cut-short', 3_100, 3_600, undefined, 3_700, false)],
    });
    expect(verdict.tokenOrderViolations).toBe(1);
    expect(verdict.violations).toEqual([
      // b's writes carry a lower token than a's, elected before them.
      expect.stringMatching(/^100 stale write\(s\) accepted; the first by b token 10 after token 20/),
      '1 term(s) with a token not above every earlier term\'s',
      '1 fault(s) after which no leader wrote within the bound after the heal (kill: 4000 ms)',
      '1 fault(s) that should have moved leadership did not (kill)',
    ]);
  });

  it('gives a restarted server leader the servers\' own election time on top of the bound, and no other fault', () => {
    // Both recovered 6 s after their heal: within 4 s + 3 s for the server leader's restart, not for a kill.
    const verdict = check({
      ...base,
      serverRecovery: { kinds: ['server-leader-restart'], ms: 3_000 },
      terms: [term('a', 10, 0, 1_000), term('b', 20, 7_000, 8_000), term('c', 30, 15_000, 16_000)],
      faults: [fault('server-leader-restart', 900, 1_000, 7_001, 7_001, false), fault('kill', 7_500, 9_000, 15_001, 15_001)],
    });
    expect(verdict.kinds.map((k) => [k.kind, k.unrecovered])).toEqual([
      ['server-leader-restart', 0],
      ['kill', 1],
    ]);
    expect(verdict.violations).toEqual(['1 fault(s) after which no leader wrote within the bound after the heal (kill: 4000 ms)']);
  });

  it('a forced end (the server deleted the leader\'s entry): a short overlap is counted apart; a long one is a violation', () => {
    const quick = check({ ...base, terms: [term('a', 10, 0, 1_030), term('b', 20, 1_010, 2_000, { electedAt: 1_005 })], faults: [fault('delete', 1_000, 1_000, 1_011, 1_011)] });
    expect(quick.kinds[0]).toMatchObject({ overlaps: 0, forcedOverlapMaxMs: 25, staleAccepted: 0, staleForced: 2 });
    expect(quick.violations).toEqual([]);
    const slow = check({ ...base, terms: [term('a', 10, 0, 1_800), term('b', 20, 1_010, 2_000)], faults: [fault('expire', 1_000, 1_000, 1_011, 1_011)] });
    expect(slow.violations).toEqual([expect.stringMatching(/^1 forced end\(s\) after which the old leader worked on for more than 500 ms; the longest 790\.0 ms/)]);
  });

  it('an open term ends with the history', () => {
    const verdict = check({ ...base, endAt: ns(4_000), terms: [term('a', 10, 0, undefined), term('b', 20, 3_000, 4_000)], faults: [] });
    expect(verdict.overlaps).toEqual([expect.objectContaining({ ms: 1_000, excuse: undefined })]);
  });
});
