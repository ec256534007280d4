/**
 * Session liveness, once for every backend: whether a session still counts
 * as ours, judged on our own clock.
 *
 *   live ⇄ suspended → ended('deadline' | 'session-expired' | 'closed')
 *
 * A backend keeps the session (ZooKeeper's heartbeat, etcd's keepalive, the
 * in-memory server's ping) and reports what it learns:
 *
 * - `contact(sentAt)`: the server is known to have heard a request sent at
 *   `sentAt` — the loss deadline moves (see deadline.ts for why the *send*
 *   time);
 * - `suspend(why)`: a request went unanswered or the link dropped — we may
 *   still lead, until the deadline;
 * - `resume()`: answers again before the deadline;
 * - `end('session-expired')`: the server says the session is gone;
 * - `follow(grantedMs)`: the server now applies a shorter timeout.
 *
 * The deadline ends the session by itself (`deadline`) whatever the backend
 * does next, and nothing revives an ended session: the backend opens a fresh
 * one (see slot.ts). The margin for the granted timeout follows one rule,
 * `safetyMarginFor`.
 */
import type { Clock } from './clock.js';
import { LossDeadline, safetyMarginFor } from './deadline.js';
import { LogEvent, type Logger } from './logger.js';
import type { CandidateState } from './contract.js';
import { StateMachine } from './state.js';
import type { SessionTelemetry } from './telemetry.js';

export type SessionEnd = 'deadline' | 'session-expired' | 'closed';

export type SessionStatus =
  | { readonly kind: 'live' }
  | { readonly kind: 'suspended'; readonly deadline: number }
  | { readonly kind: 'ended'; readonly reason: SessionEnd };

const edges = {
  live: ['suspended', 'ended'],
  suspended: ['live', 'ended'],
  ended: [],
} as const;

export interface LivenessOptions {
  /** The timeout (ZooKeeper) or TTL (etcd) the server granted. */
  timeoutMs: number;
  /** The safety margin asked for; `safetyMarginFor` decides the one used. */
  safetyMarginMs: number | undefined;
  /** When the request that opened the session was sent: the server started counting no earlier. */
  openedAt: number;
  clock: Clock;
  logger: Logger;
  /** Fields that name the session in log lines, e.g. `{ session: '0x…' }` or `{ lease: '…' }`. */
  label: Readonly<Record<string, string>>;
  /** Told every status and every answered heartbeat's round trip. */
  telemetry?: SessionTelemetry | undefined;
}

export class Liveness {
  readonly deadline: LossDeadline;
  /** Resolves with the reason once the session has ended for us. */
  readonly ended: Promise<SessionEnd>;
  private readonly machine: StateMachine<SessionStatus>;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<(status: SessionStatus) => void>();
  /** Told after the others: whoever replaces an ended session (see `onStatus`). */
  private readonly lateListeners = new Set<(status: SessionStatus) => void>();
  private readonly asked: number | undefined;
  private readonly logger: Logger;
  private readonly label: Readonly<Record<string, string>>;
  private resolveEnded: (reason: SessionEnd) => void = () => {};
  private readonly clock: Clock;
  private readonly telemetry: SessionTelemetry | undefined;

  constructor(options: LivenessOptions) {
    this.asked = options.safetyMarginMs;
    this.logger = options.logger;
    this.label = options.label;
    this.clock = options.clock;
    this.telemetry = options.telemetry;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.machine = new StateMachine<SessionStatus>({ kind: 'live' }, edges, (next) => {
      // Each listener on its own: one that throws must not keep the others —
      // a leadership among them — from hearing that the session ended.
      for (const listener of [...this.listeners, ...this.lateListeners]) {
        try {
          listener(next);
        } catch (error) {
          this.logger.error({ event: 'listener-failed', ...this.label, err: error }, 'a session status listener threw');
        }
      }
      this.tell((t) => t.sessionStatus?.(next));
    });
    this.deadline = new LossDeadline({
      timeoutMs: options.timeoutMs,
      safetyMarginMs: safetyMarginFor(options.timeoutMs, options.safetyMarginMs, options.logger),
      clock: options.clock,
      lastContact: options.openedAt,
      onExpire: () => this.end('deadline'),
    });
    this.tell((t) => t.sessionStatus?.(this.machine.state));
  }

  /** Telemetry is the user's code: what it throws is logged, never let into the session. */
  private tell(call: (telemetry: SessionTelemetry) => void): void {
    if (!this.telemetry) return;
    try {
      call(this.telemetry);
    } catch (error) {
      this.logger.warn({ event: 'telemetry-failed', ...this.label, err: error }, 'the telemetry callback threw');
    }
  }

  get status(): SessionStatus {
    return this.machine.state;
  }

  get isEnded(): boolean {
    return this.machine.state.kind === 'ended';
  }

  /** Aborted when the session ends; the reason is the `SessionEnd`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Status changes, each reported once. Returns an unsubscribe function.
   * `late` listeners hear of a change after all the others: the slot that
   * replaces an ended session uses it, so that every leadership on the
   * session has been lost before anything else happens.
   */
  onStatus(listener: (status: SessionStatus) => void, options: { late?: boolean } = {}): () => void {
    const set = options.late ? this.lateListeners : this.listeners;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The server heard a request sent at `sentAt`. */
  contact(sentAt: number): void {
    this.deadline.contact(sentAt);
  }

  /** A heartbeat or keepalive sent at `sentAt` was answered now (for telemetry; `contact` moves the deadline). */
  answered(sentAt: number): void {
    const ms = this.clock.now() - sentAt;
    this.tell((t) => t.roundTrip?.(ms));
  }

  /** No answer (or no link): leadership holds until the deadline. */
  suspend(why: string): void {
    if (this.machine.state.kind !== 'live') return;
    const deadline = this.deadline.deadline;
    this.logger.warn({ event: LogEvent.Suspended, ...this.label, why, deadline }, 'no answer from the server; leadership holds until the loss deadline');
    this.machine.transition({ kind: 'suspended', deadline });
  }

  /** Answers again: live, unless the deadline has already passed. */
  resume(): void {
    if (this.machine.state.kind !== 'suspended' || this.deadline.expired) return;
    this.logger.info({ event: LogEvent.Resumed, ...this.label }, 'the server answers again');
    this.machine.transition({ kind: 'live' });
  }

  /** The server granted `timeoutMs` anew (a reconnect): a shorter one applies at once, never a longer one. */
  follow(timeoutMs: number): void {
    if (this.isEnded || !(timeoutMs > 0) || timeoutMs >= this.deadline.timeoutMs) return;
    this.logger.warn({ event: 'session-timeout-shortened', ...this.label, fromMs: this.deadline.timeoutMs, toMs: timeoutMs });
    this.deadline.shorten(timeoutMs, safetyMarginFor(timeoutMs, this.asked, this.logger));
  }

  /** Ends the session for us, once; every later call is ignored. */
  end(reason: SessionEnd): void {
    if (this.isEnded) return;
    if (reason !== 'deadline') this.deadline.stop();
    const level = reason === 'closed' ? 'info' : 'warn';
    const event = reason === 'session-expired' ? LogEvent.SessionExpired : reason === 'closed' ? 'session-closed' : 'session-deadline';
    this.logger[level]({ event, ...this.label, reason }, `session ended: ${reason}`);
    this.machine.transition({ kind: 'ended', reason });
    this.controller.abort(reason);
    this.resolveEnded(reason);
  }
}

/**
 * Keeps a leader in step with its session, the same way in every backend:
 * `suspended` and `live` move the candidate between `suspended` and
 * `leader` (it leads on until the deadline); an ended session ends the
 * leadership (`lose`, with the session's reason). Applies the status at
 * once, then every change; returns the unsubscribe function.
 */
export function followSession(
  liveness: Liveness,
  machine: StateMachine<CandidateState>,
  lose: (reason: SessionEnd) => void,
): () => void {
  const apply = (status: SessionStatus): void => {
    if (status.kind === 'ended') return lose(status.reason);
    const current = machine.state;
    if (current.kind !== 'leader' && current.kind !== 'suspended') return;
    if (status.kind === 'suspended') machine.transition({ kind: 'suspended', token: current.token, deadline: status.deadline });
    else machine.transition({ kind: 'leader', token: current.token });
  };
  const off = liveness.onStatus(apply);
  apply(liveness.status);
  return off;
}
