/**
 * The suite's shared context: the backend (resolved once), timeouts derived
 * from its session timeout and timing base, and the handles a test opened —
 * healed and closed after each test, pass or fail.
 */
import { it } from '@jest/globals';
import type { ConformanceBackend, ConformanceHandle } from './types.js';
import { Recorder, within } from './kit.js';

/** A fault a backend may offer: its handles' `expire()`, `cut()` + `heal()`; its own `deleteEntry()`. */
export type Fault = 'expire' | 'cut' | 'delete';

/** Every timeout of the suite, in ms, derived from one base. */
export interface Timeouts {
  /** The backend's session timeout / lease TTL. */
  readonly session: number;
  /** A round trip, a wake, a local event. */
  readonly op: number;
  /** A session expiring on the server, then another candidate taking over. */
  readonly failover: number;
  /** Lateness allowed on the loss deadline (timers, event loop). */
  readonly slack: number;
}

/** The suite's timeouts for `backend`: each grows with `sessionTimeoutMs` and is scaled by `timing`. */
export function timeouts(backend: ConformanceBackend): Timeouts {
  const session = backend.sessionTimeoutMs;
  const scale = backend.timing ?? 1;
  return {
    session,
    op: Math.round((2000 + session) * scale),
    failover: Math.round((2 * session + 3000) * scale),
    slack: Math.round(Math.max(250, session / 4) * scale),
  };
}

/** A backend, or a factory called once before the tests. */
export type BackendSource = ConformanceBackend | (() => Promise<ConformanceBackend>);

/** One `describeConformance` call's state; not part of the public API. */
export class Suite {
  private resolved: ConformanceBackend | undefined;
  private opened: ConformanceHandle[] = [];
  private readonly cutOff = new Set<ConformanceHandle>();
  private controller = new AbortController();

  constructor(
    private readonly source: BackendSource,
    readonly faults: ReadonlySet<Fault>,
    private readonly testTimeoutMs: number | undefined,
  ) {}

  get backend(): ConformanceBackend {
    if (!this.resolved) throw new Error('the conformance backend is not ready (its factory failed or has not run)');
    return this.resolved;
  }

  /** The backend, or undefined when its factory has not run or failed. */
  get ready(): ConformanceBackend | undefined {
    return this.resolved;
  }

  get t(): Timeouts {
    return timeouts(this.backend);
  }

  /** Aborted after each test: pass it to observers and event streams. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async setup(): Promise<void> {
    this.resolved = typeof this.source === 'function' ? await this.source() : this.source;
  }

  /** A new handle, closed after the test. */
  async open(name: string, logger?: ConformanceHandleLogger): Promise<ConformanceHandle> {
    const handle = await this.backend.open(name, logger ? { logger } : {});
    this.opened.push(handle);
    return handle;
  }

  /** Records an async iterable for the test (ended by `signal` after it). */
  record<T>(iterable: AsyncIterable<T>): Recorder<T> {
    return new Recorder(iterable);
  }

  async cut(handle: ConformanceHandle): Promise<void> {
    if (!handle.cut || !handle.heal) throw missing('cut() and heal()');
    this.cutOff.add(handle);
    await handle.cut();
  }

  async heal(handle: ConformanceHandle): Promise<void> {
    if (!handle.heal) throw missing('heal()');
    await handle.heal();
    this.cutOff.delete(handle);
  }

  async deleteEntry(key: string): Promise<void> {
    if (!this.backend.deleteEntry) throw missing('deleteEntry()');
    await this.backend.deleteEntry(key);
  }

  async expire(handle: ConformanceHandle): Promise<void> {
    if (!handle.expire) throw missing('expire()');
    await handle.expire();
  }

  /** Heals what a test cut, then closes every handle it opened; fails if any close fails. */
  async cleanup(): Promise<void> {
    this.controller.abort();
    this.controller = new AbortController();
    const handles = this.opened;
    const cut = [...this.cutOff];
    this.opened = [];
    this.cutOff.clear();
    if (!this.resolved) return;
    const limit = this.t.op + this.t.session;
    const failures: unknown[] = [];
    for (const handle of cut) {
      try {
        await within(Promise.resolve(handle.heal?.()), limit, 'heal() in cleanup');
      } catch (error) {
        failures.push(error);
      }
    }
    const closes = handles.map((handle) => within(handle.close(), limit, 'close() of a handle in cleanup'));
    for (const result of await Promise.allSettled(closes)) if (result.status === 'rejected') failures.push(result.reason);
    if (failures.length > 0) throw new AggregateError(failures, `cleanup failed: ${failures.map(String).join('; ')}`);
  }

  /** Declares a test; skipped, with the reason in its title, when the backend lacks a fault it needs. */
  test(title: string, needs: readonly Fault[], fn: () => Promise<void>): void {
    const lacking = needs.filter((fault) => !this.faults.has(fault));
    if (lacking.length > 0) {
      it.skip(`${title} [skipped: the backend offers no ${lacking.map((f) => (f === 'delete' ? 'deleteEntry()' : `${f}()`)).join(' / ')}]`, () => {});
    } else {
      it(title, fn, this.testTimeoutMs);
    }
  }
}

type ConformanceHandleLogger = NonNullable<Parameters<ConformanceBackend['open']>[1]>['logger'];

function missing(what: string): Error {
  return new Error(
    `this handle has no ${what}, but the suite was told the backend offers it: ` +
      'pass describeConformance(backend, { faults: [...] }) listing only the faults its handles implement',
  );
}
