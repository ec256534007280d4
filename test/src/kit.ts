/**
 * What every backend's tests share: a logger that keeps what it hears, and
 * a fresh election name per test. (Waiting for a condition is `waitUntil`,
 * from @elect/testcontainers.)
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Election, Logger } from '@elect/core';
import { waitUntil } from '@elect/testcontainers';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: { event?: string; [key: string]: unknown };
  message: string | undefined;
}

/**
 * Records what a backend logs; tests count events (`wake`, `heartbeat`…) and
 * wait for them through it. With ELECT_TEST_LOG=1 it also prints each record.
 */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  constructor(private readonly echo = process.env.ELECT_TEST_LOG === '1') {}
  debug(fields: object, message?: string): void {
    this.add('debug', fields, message);
  }
  info(fields: object, message?: string): void {
    this.add('info', fields, message);
  }
  warn(fields: object, message?: string): void {
    this.add('warn', fields, message);
  }
  error(fields: object, message?: string): void {
    this.add('error', fields, message);
  }
  /** How many records carry `event`. */
  count(event: string): number {
    return this.records.filter((record) => record.fields.event === event).length;
  }
  protected add(level: LogRecord['level'], fields: object, message: string | undefined): void {
    this.records.push({ level, fields: fields as LogRecord['fields'], message });
    if (this.echo) console.log(new Date().toISOString(), level, JSON.stringify(fields), message ?? '');
  }
}

let counter = 0;
/** An election name no other test (in this or another worker) uses. */
export function uniqueName(prefix = 'elect-test'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/**
 * Whether the object `ref` points to has been garbage-collected, after a few
 * full collections with a turn of the event loop between them (a WeakRef's
 * target lives at least until the job that made or read it ends).
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

/** What `droppedHandles` saw: every field is `true` when the connection behaved. */
export interface DroppedHandles {
  /** A handle that only read was collected once dropped. */
  idleCollected: boolean;
  /** Dropped handles with a leader, a waiting campaign, observers on them were all kept. */
  busyKept: boolean;
  /** Closing `b` rejected its waiting campaign with `ClosedError`. */
  waitingClosed: boolean;
  /** Closing `a` aborted its leader's signal and ended both observers. */
  leaderAndObserversEnded: boolean;
}

/**
 * Election handles the caller dropped, on two connections to one election
 * `name`: one that only read (`a`), and three with something running on them
 * (a leader and observers on `a`, a waiting campaign on `b`). Then closes `b`
 * and `a`. A connection must let the first go and keep the others, and its
 * close must still end what runs on them.
 */
export async function droppedHandles(a: { election(name: string): Election; close(): Promise<void> }, b: typeof a, name: string): Promise<DroppedHandles> {
  const idle = await (async () => {
    const election = a.election(name);
    await election.leader();
    await election.candidates();
    return new WeakRef(election);
  })();
  const leader = await (async () => {
    const election = a.election(name);
    return { leadership: await election.campaign({ id: 'leader' }), ref: new WeakRef(election) };
  })();
  const waiter = (() => {
    const election = b.election(name);
    return { campaign: election.campaign({ id: 'waiting' }), ref: new WeakRef(election) };
  })();
  waiter.campaign.catch(() => {});
  // The caller holds only the observers' iterators.
  const watcher = (() => {
    const election = a.election(name);
    return { leaders: election.observe()[Symbol.asyncIterator](), events: election.events()[Symbol.asyncIterator](), ref: new WeakRef(election) };
  })();
  const first = await watcher.leaders.next();
  if (first.value?.id !== 'leader') throw new Error(`observe() began with ${JSON.stringify(first.value)}, not the leader`);
  const eventsEnd = watcher.events.next();
  const reader = a.election(name);
  await waitUntil(async () => (await reader.candidates()).length === 2, { timeoutMs: 5_000, what: 'the second campaign to queue' });
  await reader.close();

  const idleCollected = await collected(idle);
  let busyKept = true;
  for (const ref of [leader.ref, waiter.ref, watcher.ref]) if (await collected(ref)) busyKept = false;
  await b.close();
  const waitingClosed = await waiter.campaign.then(
    () => false,
    (error: unknown) => (error as Error).name === 'ClosedError',
  );
  await a.close();
  const ended = await Promise.all([watcher.leaders.next(), eventsEnd]);
  const leaderAndObserversEnded = leader.leadership.signal.aborted && ended.every((result) => result.done === true);
  return { idleCollected, busyKept, waitingClosed, leaderAndObserversEnded };
}
