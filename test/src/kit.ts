/**
 * What every backend's tests share: a logger that keeps what it hears, and
 * a fresh election name per test. (Waiting for a condition is `waitUntil`,
 * from @elect/testcontainers.)
 */
import type { Logger } from '@elect/core';

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

