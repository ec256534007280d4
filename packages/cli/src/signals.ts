/**
 * Where a signal to `elect run` goes. One listener per signal for the whole
 * run, and one rule:
 *
 *   - while the command runs — from its spawn until its exit is seen — the
 *     term (supervise.ts) has taken the signals through `term` and passes
 *     them on to the command's process group; the command's exit then says
 *     what `elect` exits with;
 *   - at any other moment (connecting, campaigning, between rounds, cleaning
 *     up after the command) SIGUSR1 and SIGUSR2 are ignored, and any other
 *     signal ends `elect`: `interrupted` aborts with the signal's name. That
 *     gives up a campaign at once; after a term it cuts the cleanup short
 *     (what the command left in its group gets SIGKILL; our entry is removed)
 *     and then ends `elect` with 128 + n — never a new campaign.
 *
 * So no signal is passed on to a group whose command `elect` knows has
 * exited, and none is ignored after that. (One sent in the instant between
 * the command's death and its exit event reaches only the dying process.)
 */
import type { SignalSource } from './deps.js';
import type { Logger } from './log.js';
import { forwardedSignals } from './process-group.js';

type Listener = (signal: NodeJS.Signals) => void;

export class SignalRouter {
  private readonly interrupt = new AbortController();
  private readonly taken = new Map<NodeJS.Signals, Listener>();
  private readonly onSignal: Listener = (signal) => this.route(signal);

  /**
   * The signals as the term takes them: a listener registered here receives
   * its signal instead of the rule above, until it is removed.
   */
  readonly term: SignalSource = {
    on: (signal, listener) => this.taken.set(signal, listener),
    off: (signal, listener) => {
      if (this.taken.get(signal) === listener) this.taken.delete(signal);
    },
  };

  constructor(
    private readonly source: SignalSource,
    private readonly logger: Logger,
  ) {}

  /** Aborts, with the signal's name as its reason, on the first signal that ends `elect`. */
  get interrupted(): AbortSignal {
    return this.interrupt.signal;
  }

  /** Starts listening to `source`; returns the function that stops. */
  listen(): () => void {
    for (const signal of forwardedSignals) this.source.on(signal, this.onSignal);
    return () => {
      for (const signal of forwardedSignals) this.source.off(signal, this.onSignal);
    };
  }

  private route(signal: NodeJS.Signals): void {
    const take = this.taken.get(signal);
    if (take) return take(signal);
    if (signal === 'SIGUSR1' || signal === 'SIGUSR2') {
      this.logger.info({ event: 'signal', signal }, `${signal} ignored: no command is running`);
      return;
    }
    if (this.interrupt.signal.aborted) {
      this.logger.info({ event: 'signal', signal }, `${signal}: already ending (on ${String(this.interrupt.signal.reason)})`);
      return;
    }
    this.logger.info({ event: 'signal', signal }, `${signal}: ending; no new campaign`);
    this.interrupt.abort(signal);
  }
}
