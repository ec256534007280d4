/**
 * One wake-up for a waiting loop, whatever the reason: a ZooKeeper watch
 * fired, the session ended, or the caller stopped. The loop re-reads the
 * queue after every wake instead of trusting what woke it (kazoo's pattern).
 */
import type { Session } from './session.js';

export type WakeReason = 'watch' | 'session' | 'stop';

export class Wake {
  /** Settles with the first reason; later ones are ignored. */
  readonly reason: Promise<WakeReason>;
  /** Pass as a ZooKeeper watcher. */
  readonly watcher: () => void;
  private resolve!: (reason: WakeReason) => void;
  private readonly cleanup: Array<() => void> = [];

  private fired = false;

  constructor(session: Session, stop: AbortSignal) {
    this.reason = new Promise((resolve) => (this.resolve = resolve));
    this.watcher = () => this.fire('watch');
    if (stop.aborted) this.fire('stop');
    else if (session.isEnded) this.fire('session');
    else this.listen(session, stop);
  }

  private listen(session: Session, stop: AbortSignal): void {
    const onAbort = (): void => this.fire('stop');
    stop.addEventListener('abort', onAbort, { once: true });
    this.cleanup.push(
      () => stop.removeEventListener('abort', onAbort),
      session.liveness.onStatus((status) => {
        if (status.kind === 'ended') this.fire('session');
      }),
    );
  }

  /** It fired or was cancelled: its wait is over (a watch re-armed for it would be stale). */
  get isDone(): boolean {
    return this.fired;
  }

  /** Releases the listeners of a wake that will not be awaited (the loop moved on without it). */
  cancel(): void {
    this.fired = true;
    for (const release of this.cleanup.splice(0)) release();
  }

  private fire(reason: WakeReason): void {
    if (this.fired) return;
    this.fired = true;
    this.resolve(reason);
    for (const release of this.cleanup.splice(0)) release();
  }
}
