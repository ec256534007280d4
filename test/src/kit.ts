/**
 * What every backend's tests share: a logger that keeps what it hears, and
 * a fresh election name per test. (Waiting for a condition is `waitUntil`,
 * from @elect/testcontainers.)
 */
import { once } from 'node:events';
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
 * `rounds` times on one election, as a priority election: a campaign that
 * leads, one that waits and is given up, one that is handed over to and
 * resigns; `signal` is given to some of each (the abandoned one has its
 * own). What a long-lived signal — the caller's, the election's, a
 * session's — must hold nothing of once they end (core's `signalHolds`).
 */
export async function campaignRounds(election: Election, signal: AbortSignal, rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i += 1) {
    const leadership = await election.campaign({ id: 'a', signal, priority: 1 });
    const giveUp = new AbortController();
    const given = election.campaign({ id: 'given-up', signal: giveUp.signal, priority: 1 });
    const next = election.campaign({ id: 'b', priority: 1 });
    await waitUntil(async () => (await election.candidates()).length === 3, { timeoutMs: 5000, what: 'both to queue' });
    giveUp.abort();
    await given.then(
      () => Promise.reject(new Error('a campaign given up while it waited led')),
      (error: unknown) => ((error as Error).name === 'AbortError' ? undefined : Promise.reject(error)),
    );
    const asked = election.handover({ to: 'b', ...(i % 2 === 0 ? { signal } : {}) });
    await once(leadership.signal, 'abort');
    await leadership.resign();
    const handed = await next;
    await asked;
    await handed.resign();
  }
}
