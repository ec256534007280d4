/**
 * The loss deadline: the one piece of safety logic both backends share.
 *
 * The server gives our leadership away only after it has not heard from us for
 * a whole session timeout (ZooKeeper) or lease TTL (etcd). So if the last
 * moment the server is known to have heard from us is `lastContact`, nobody
 * else can be leader before `lastContact + timeout`. We stop leading earlier,
 * at
 *
 *     deadline = lastContact + timeoutMs − safetyMarginMs
 *
 * whatever the connection does next. `lastContact` must be the moment a request
 * was *sent* whose answer later arrived (the server heard it no earlier than
 * that), never the moment the answer arrived.
 *
 * Assumptions: our clock and the server's run at nearly the same rate (the
 * margin absorbs drift and timer lateness), and this process is not paused
 * past the margin. Pauses (GC, SIGSTOP, VM freeze) can outlive any deadline:
 * that is what fencing tokens are for.
 */
import { systemClock, type Clock } from './clock.js';
import { InvalidOptionError, LeadershipLostError } from './errors.js';
import type { Logger } from './logger.js';

export interface LossDeadlineOptions {
  /** Session timeout or lease TTL as the server applies it. */
  timeoutMs: number;
  /** How much earlier than the server we give up. Must be < timeoutMs. */
  safetyMarginMs: number;
  /** Called once when the deadline passes without fresh contact. */
  onExpire: () => void;
  clock?: Clock;
  /** The first contact (e.g. the moment the session request was sent). Defaults to now. */
  lastContact?: number;
}

/** The default safety margin for a timeout: a tenth of it, at least 100 ms and never more than a third. */
export function defaultSafetyMarginMs(timeoutMs: number): number {
  return Math.min(Math.max(100, Math.round(timeoutMs / 10)), Math.floor(timeoutMs / 3));
}

/**
 * The safety margin for the timeout the server granted, one rule for every
 * backend: the margin asked for, if it is shorter than the granted timeout;
 * else — a margin chosen for a longer timeout than the server allowed would
 * leave no time at all — the default for the granted one, and `logger` hears
 * of it (event `safety-margin`).
 */
export function safetyMarginFor(grantedMs: number, askedMs: number | undefined, logger?: Logger): number {
  if (askedMs === undefined) return defaultSafetyMarginMs(grantedMs);
  if (askedMs < grantedMs) return askedMs;
  const margin = defaultSafetyMarginMs(grantedMs);
  logger?.warn({ event: 'safety-margin', asked: askedMs, timeoutMs: grantedMs, using: margin }, 'the server granted a timeout shorter than the safety margin');
  return margin;
}

interface Ahead {
  leadMs: number;
  controller: AbortController;
  cancel: () => void;
  /** Stops listening to the caller's `until` signal. */
  release: () => void;
}

export class LossDeadline {
  private timeout: number;
  private margin: number;
  private readonly clock: Clock;
  private readonly onExpire: () => void;
  private last: number;
  private cancelTimer: () => void = () => {};
  private done = false;
  private readonly aheads = new Set<Ahead>();

  constructor(options: LossDeadlineOptions) {
    const { timeoutMs, safetyMarginMs } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidOptionError('timeoutMs', `must be a positive number of milliseconds, got ${String(timeoutMs)}`);
    }
    if (!Number.isFinite(safetyMarginMs) || safetyMarginMs < 0 || safetyMarginMs >= timeoutMs) {
      throw new InvalidOptionError(
        'safetyMarginMs',
        `must be at least 0 and less than the timeout (${timeoutMs} ms), got ${String(safetyMarginMs)}`,
      );
    }
    this.timeout = timeoutMs;
    this.margin = safetyMarginMs;
    this.clock = options.clock ?? systemClock;
    this.onExpire = options.onExpire;
    this.last = options.lastContact ?? this.clock.now();
    this.arm();
  }

  /** The session timeout or lease TTL the deadline counts with. */
  get timeoutMs(): number {
    return this.timeout;
  }

  /** How much earlier than the server we give up. */
  get safetyMarginMs(): number {
    return this.margin;
  }

  /**
   * The server now holds a shorter timeout than the one we count with
   * (ZooKeeper re-negotiates it on every reconnect, and members may differ):
   * the deadline follows it down at once, never up. `safetyMarginMs` must be
   * less than the new timeout.
   */
  shorten(timeoutMs: number, safetyMarginMs: number): void {
    if (this.done || timeoutMs >= this.timeout) return;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || safetyMarginMs < 0 || safetyMarginMs >= timeoutMs) {
      throw new InvalidOptionError('timeoutMs', `must be positive and more than the margin, got ${timeoutMs} (margin ${safetyMarginMs})`);
    }
    this.timeout = timeoutMs;
    this.margin = safetyMarginMs;
    this.arm();
  }

  /** The last moment the server is known to have heard from us. */
  get lastContact(): number {
    return this.last;
  }

  /** lastContact + timeoutMs − safetyMarginMs. */
  get deadline(): number {
    return this.last + this.timeout - this.margin;
  }

  /** True once the deadline has passed (or `expire()` was called); final. */
  get expired(): boolean {
    return this.done;
  }

  /** Milliseconds left before the deadline (negative once passed). */
  remaining(): number {
    return this.deadline - this.clock.now();
  }

  /**
   * The server heard from us at `sentAt` (when the acknowledged request was
   * sent). Moves the deadline forward; an older contact is ignored, and
   * nothing revives an expired deadline.
   */
  contact(sentAt: number = this.clock.now()): void {
    if (this.done || sentAt <= this.last) return;
    this.last = sentAt;
    this.arm();
  }

  /** Ends it now (e.g. the server said the session expired): `onExpire` runs once. */
  expire(): void {
    if (this.done) return;
    this.done = true;
    this.cancelTimer();
    for (const ahead of this.aheads) {
      ahead.cancel();
      ahead.release();
      ahead.controller.abort(reached());
    }
    this.aheads.clear();
    this.onExpire();
  }

  /** Stops the timer without expiring (the session was closed on purpose). */
  stop(): void {
    this.done = true;
    this.cancelTimer();
    for (const ahead of this.aheads) {
      ahead.cancel();
      ahead.release();
    }
    this.aheads.clear();
  }

  /**
   * A signal that aborts `leadMs` before the deadline (re-planned on every
   * contact), or when the deadline expires; already aborted when handed out
   * if less than `leadMs` is left. Once aborted it stays aborted.
   *
   * Each armed signal is a timer that every contact re-plans, held until it
   * fires or the deadline ends, and a session's deadline can outlive many
   * leaderships: pass `until` (a leadership's own signal) and the timer is
   * dropped when that aborts — the returned signal then never aborts.
   */
  signalAhead(leadMs: number, until?: AbortSignal): AbortSignal {
    aheadLead(leadMs);
    const controller = new AbortController();
    if (this.done) {
      controller.abort(reached());
      return controller.signal;
    }
    if (until?.aborted) return controller.signal;
    // Already within the lead: aborted as it is handed out, so that a caller
    // checking `.aborted` before it starts work does not start it.
    if (this.remaining() - leadMs <= 0) {
      controller.abort(withinLead(leadMs));
      return controller.signal;
    }
    const ahead: Ahead = { leadMs, controller, cancel: () => {}, release: () => {} };
    if (until) {
      const drop = (): void => {
        ahead.cancel();
        this.aheads.delete(ahead);
      };
      until.addEventListener('abort', drop, { once: true });
      ahead.release = () => until.removeEventListener('abort', drop);
    }
    this.aheads.add(ahead);
    this.armAhead(ahead);
    return controller.signal;
  }

  private arm(): void {
    this.cancelTimer();
    this.cancelTimer = this.clock.schedule(() => this.check(), this.remaining());
    for (const ahead of this.aheads) this.armAhead(ahead);
  }

  private check(): void {
    if (this.done) return;
    // Timers can fire early on some platforms; re-arm rather than expire early.
    if (this.remaining() > 0) this.arm();
    else this.expire();
  }

  private armAhead(ahead: Ahead): void {
    ahead.cancel();
    const fire = (): void => {
      if (this.done || ahead.controller.signal.aborted) return;
      const left = this.remaining() - ahead.leadMs;
      if (left > 0) {
        ahead.cancel = this.clock.schedule(fire, left);
        return;
      }
      this.aheads.delete(ahead);
      ahead.release();
      ahead.controller.abort(withinLead(ahead.leadMs));
    };
    ahead.cancel = this.clock.schedule(fire, this.remaining() - ahead.leadMs);
  }
}

/** Refuses a lead for `signalAhead` that is not a non-negative number of milliseconds. */
export function aheadLead(leadMs: number): number {
  if (!Number.isFinite(leadMs) || leadMs < 0) {
    throw new InvalidOptionError('leadMs', `must be a non-negative number of milliseconds, got ${String(leadMs)}`);
  }
  return leadMs;
}

function withinLead(leadMs: number): LeadershipLostError {
  return new LeadershipLostError('deadline', `less than ${leadMs} ms left before the loss deadline: stop the work now`);
}

// Signals abort with ElectErrors only (see errors.ts), so a task that rethrows
// `signal.reason` still throws something typed.
function reached(): LeadershipLostError {
  return new LeadershipLostError('deadline', 'the loss deadline was reached');
}
