/**
 * The split-brain checker: from the store's record of every term (who wrote,
 * with which token, from when to when, and what was accepted) and the soak's
 * record of the faults it injected, it computes what the promise forbids.
 *
 *   - overlap: two terms open at the same moment: from when the candidate
 *     says it was elected (its own stamp) until the store saw the term end
 *     (bye, or the writer's process died) — so this never under-counts. Excused only where the older term's whole process was
 *     frozen (a library candidate SIGSTOPped, or `elect` with its watchdog
 *     and command frozen together, as in a frozen VM): nothing on that host
 *     runs, so only fencing can help — and then every stale write must be
 *     rejected.
 *   - stale write: a write by a term when a term with a higher token had
 *     already been elected (by that candidate's own clock reading — the same
 *     monotonic clock on one host). Accepted: a violation. Rejected: the
 *     store's fencing did its job.
 *   - token order: every term's token is above every earlier term's.
 *
 * Faults where the *server* ends a leadership on an operator's word (the
 * leader's entry deleted, its session expired or lease revoked) are
 * different: the server hands leadership on at that moment, and the old
 * leader can only learn of it afterwards, from the server. No client can
 * close that gap; what it can do is stop as soon as it is told. So overlaps
 * and stale writes during such a fault are counted apart ("forced") and must
 * end within `forcedBoundMs`; the store's fencing still orders the writes
 * (a stale write it accepts comes before any write with the newer token).
 *
 * Pure: no I/O, so its own tests feed it made-up histories, unsafe ones
 * included, and it must flag them.
 */
import type { Term } from './store.js';

export interface Freeze {
  /** The processes that were stopped (SIGSTOP). */
  pids: readonly number[];
  from: bigint;
  /** When they were continued; undefined if never. */
  to: bigint | undefined;
}

export interface FaultRecord {
  kind: string;
  /** The candidate that led when the fault was injected. */
  leader: string;
  /** When the fault was injected, healed, and when a leader wrote again after it. */
  at: bigint;
  healedAt: bigint;
  /** First accepted write by a term with a higher token than the faulted leader's, if any. */
  failoverAt: bigint | undefined;
  /** First accepted write (by anyone) after the heal. */
  recoveredAt: bigint | undefined;
  /** Whether the fault is expected to move leadership (a short cut is not). */
  expectTransition: boolean;
  /** The server ended the leadership on an operator's word (delete, expire, revoke). */
  forced: boolean;
}

export interface Overlap {
  older: { id: string; token: string };
  newer: { id: string; token: string };
  ms: number;
  /** frozen: the older leader's whole process was frozen; forced: see above; else a violation. */
  excuse: 'frozen' | 'forced' | undefined;
  fault: string | undefined;
}

export interface StaleWrite {
  id: string;
  token: string;
  /** The higher token already elected when it was written. */
  elected: string;
  accepted: boolean;
  /** Written while the server was forcing the leadership to end (see above). */
  forced: boolean;
  fault: string | undefined;
}

export interface KindSummary {
  kind: string;
  faults: number;
  transitions: number;
  overlaps: number;
  overlapsFrozen: number;
  /** The longest overlap while the server forced an end (ms), if any. */
  forcedOverlapMaxMs: number | undefined;
  staleAccepted: number;
  /** Stale writes accepted while the server forced an end (before any write with the newer token). */
  staleForced: number;
  staleRejected: number;
  failoverMs: { min: number; median: number; max: number } | undefined;
  /** Heal to the first accepted write after it: the worst. */
  recoveryMaxMs: number | undefined;
  /** Faults after which no leader wrote again within the bound. */
  unrecovered: number;
}

export interface Verdict {
  terms: number;
  faults: number;
  transitions: number;
  overlaps: Overlap[];
  staleWrites: StaleWrite[];
  tokenOrderViolations: number;
  kinds: KindSummary[];
  /** Violations of the promise; empty means the run passed. */
  violations: string[];
}

export interface CheckInput {
  terms: readonly Term[];
  faults: readonly FaultRecord[];
  freezes: readonly Freeze[];
  /** What counts as recovered: a leader writing within this of every heal. */
  recoveryBoundMs: number;
  /**
   * Fault kinds whose heal comes before the servers themselves serve again
   * (a restarted server leader: the others are still electing one), and how
   * much longer than `recoveryBoundMs` those may take: the servers' own time
   * to elect a leader, from their settings.
   */
  serverRecovery?: { kinds: readonly string[]; ms: number };
  /** How long a forced end may leave the old leader working. */
  forcedBoundMs: number;
  /** When the history ends (terms still open end here). */
  endAt: bigint;
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

function recoveryBound(input: CheckInput, kind: string): number {
  const server = input.serverRecovery;
  return input.recoveryBoundMs + (server?.kinds.includes(kind) ? server.ms : 0);
}

export function check(input: CheckInput): Verdict {
  const terms = [...input.terms].sort((a, b) => cmp(a.electedAt, b.electedAt));
  const faults = [...input.faults].sort((a, b) => cmp(a.at, b.at));
  const faultAt = (t: bigint): FaultRecord | undefined => {
    let found: FaultRecord | undefined;
    for (const fault of faults) if (fault.at <= t) found = fault;
    return found;
  };
  const end = (term: Term): bigint => term.endAt ?? input.endAt;
  const frozenDuring = (pid: number, from: bigint, to: bigint): boolean =>
    input.freezes.some((freeze) => freeze.pids.includes(pid) && freeze.from < to && (freeze.to ?? input.endAt) > from);

  const overlaps: Overlap[] = [];
  for (let i = 0; i < terms.length; i++) {
    for (let j = i + 1; j < terms.length; j++) {
      const a = terms[i]!;
      const b = terms[j]!;
      // A term starts when its candidate was elected (its own stamp), not
      // when the store first heard of it: the store may hear of it late.
      const from = a.electedAt > b.electedAt ? a.electedAt : b.electedAt;
      const to = end(a) < end(b) ? end(a) : end(b);
      if (from >= to) continue;
      const [older, newer] = a.token <= b.token ? [a, b] : [b, a];
      const fault = faultAt(from);
      overlaps.push({
        older: { id: older.id, token: String(older.token) },
        newer: { id: newer.id, token: String(newer.token) },
        ms: ms(to - from),
        excuse: frozenDuring(older.pid, from, to) ? 'frozen' : fault?.forced ? 'forced' : undefined,
        fault: fault?.kind,
      });
    }
  }

  const staleWrites: StaleWrite[] = [];
  for (const term of terms) {
    for (const write of term.writes) {
      let elected: Term | undefined;
      for (const other of terms) {
        if (other.token > term.token && other.electedAt <= write.at && (!elected || other.token > elected.token)) elected = other;
      }
      if (elected) {
        const fault = faultAt(write.at);
        staleWrites.push({ id: term.id, token: String(term.token), elected: String(elected.token), accepted: write.accepted, forced: fault?.forced ?? false, fault: fault?.kind });
      }
    }
  }

  let tokenOrderViolations = 0;
  let highest = -1n;
  for (const term of terms) {
    if (term.token <= highest) tokenOrderViolations += 1;
    if (term.token > highest) highest = term.token;
  }

  const kinds = new Map<string, FaultRecord[]>();
  for (const fault of faults) kinds.set(fault.kind, [...(kinds.get(fault.kind) ?? []), fault]);
  const summaries: KindSummary[] = [...kinds.entries()].map(([kind, list]) => {
    const failovers = list.filter((f) => f.failoverAt !== undefined).map((f) => ms((f.failoverAt as bigint) - f.at)).sort((x, y) => x - y);
    const recoveries = list.filter((f) => f.recoveredAt !== undefined).map((f) => Math.max(0, ms((f.recoveredAt as bigint) - f.healedAt)));
    const mine = overlaps.filter((o) => o.fault === kind);
    const stale = staleWrites.filter((s) => s.fault === kind);
    const forced = mine.filter((o) => o.excuse === 'forced').map((o) => o.ms);
    return {
      kind,
      faults: list.length,
      transitions: list.filter((f) => f.failoverAt !== undefined).length,
      overlaps: mine.filter((o) => o.excuse === undefined).length,
      overlapsFrozen: mine.filter((o) => o.excuse === 'frozen').length,
      forcedOverlapMaxMs: forced.length === 0 ? undefined : Math.max(...forced),
      staleAccepted: stale.filter((s) => s.accepted && !s.forced).length,
      staleForced: stale.filter((s) => s.accepted && s.forced).length,
      staleRejected: stale.filter((s) => !s.accepted).length,
      failoverMs: failovers.length === 0 ? undefined : { min: failovers[0]!, median: failovers[Math.floor(failovers.length / 2)]!, max: failovers.at(-1)! },
      recoveryMaxMs: recoveries.length === 0 ? undefined : Math.max(...recoveries),
      unrecovered: list.filter((f) => f.recoveredAt === undefined || ms(f.recoveredAt - f.healedAt) > recoveryBound(input, kind)).length,
    };
  });

  const violations: string[] = [];
  const unexcused = overlaps.filter((o) => o.excuse === undefined);
  if (unexcused.length > 0) {
    const worst = unexcused.reduce((x, y) => (y.ms > x.ms ? y : x));
    violations.push(`${unexcused.length} overlap(s) of two leaders; the longest ${worst.ms.toFixed(1)} ms (${worst.older.id} token ${worst.older.token} with ${worst.newer.id} token ${worst.newer.token}, during ${worst.fault ?? 'no fault'})`);
  }
  const slow = overlaps.filter((o) => o.excuse === 'forced' && o.ms > input.forcedBoundMs);
  if (slow.length > 0) {
    const worst = slow.reduce((x, y) => (y.ms > x.ms ? y : x));
    violations.push(`${slow.length} forced end(s) after which the old leader worked on for more than ${input.forcedBoundMs} ms; the longest ${worst.ms.toFixed(1)} ms (${worst.older.id}, during ${worst.fault ?? 'no fault'})`);
  }
  const accepted = staleWrites.filter((s) => s.accepted && !s.forced);
  if (accepted.length > 0) {
    const first = accepted[0]!;
    violations.push(`${accepted.length} stale write(s) accepted; the first by ${first.id} token ${first.token} after token ${first.elected} was elected (during ${first.fault ?? 'no fault'})`);
  }
  if (tokenOrderViolations > 0) violations.push(`${tokenOrderViolations} term(s) with a token not above every earlier term's`);
  const missed = faults.filter((f) => f.recoveredAt === undefined || ms(f.recoveredAt - f.healedAt) > recoveryBound(input, f.kind));
  if (missed.length > 0) {
    const kinds = [...new Set(missed.map((f) => f.kind))].map((kind) => `${kind}: ${recoveryBound(input, kind)} ms`);
    violations.push(`${missed.length} fault(s) after which no leader wrote within the bound after the heal (${kinds.join(', ')})`);
  }
  const stuck = faults.filter((f) => f.expectTransition && f.failoverAt === undefined);
  if (stuck.length > 0) violations.push(`${stuck.length} fault(s) that should have moved leadership did not (${[...new Set(stuck.map((f) => f.kind))].join(', ')})`);

  return {
    terms: terms.length,
    faults: faults.length,
    transitions: faults.filter((f) => f.failoverAt !== undefined).length,
    overlaps,
    staleWrites,
    tokenOrderViolations,
    kinds: summaries,
    violations,
  };
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The human table: one row per fault kind. */
export function table(verdict: Verdict, ttlMs: number): string {
  const head = ['fault', 'count', 'moved', 'overlaps', 'frozen', 'forced max ms', 'stale accepted', 'forced', 'fenced', 'failover min/med/max ms', 'recovery max ms'];
  const rows = verdict.kinds.map((k) => [
    k.kind,
    String(k.faults),
    String(k.transitions),
    String(k.overlaps),
    String(k.overlapsFrozen),
    k.forcedOverlapMaxMs === undefined ? '-' : k.forcedOverlapMaxMs.toFixed(1),
    String(k.staleAccepted),
    String(k.staleForced),
    String(k.staleRejected),
    k.failoverMs ? `${Math.round(k.failoverMs.min)}/${Math.round(k.failoverMs.median)}/${Math.round(k.failoverMs.max)}` : '-',
    k.recoveryMaxMs === undefined ? '-' : String(Math.round(k.recoveryMaxMs)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line), `(ttl ${ttlMs} ms)`].join('\n');
}
