/**
 * Records an election's events as they arrive, so tests can wait for one
 * (from the queue, never by sleeping) and then look at the whole sequence.
 */
import type { Election, ElectionEvent } from '@elect/core';
import { waitUntil } from '@elect/test';

export interface Stamped {
  event: ElectionEvent;
  at: number;
}

export class EventLog {
  readonly entries: Stamped[] = [];
  private readonly stop = new AbortController();
  private readonly done: Promise<void>;

  constructor(election: Election) {
    const events = election.events({ signal: this.stop.signal });
    this.done = (async () => {
      for await (const event of events) this.entries.push({ event, at: Date.now() });
    })();
  }

  types(): string[] {
    return this.entries.map((entry) => entry.event.type);
  }

  /** Waits (base ms, scaled) for an event of `type` after the first `from` entries. */
  async waitFor(type: ElectionEvent['type'], timeoutMs: number, from = 0): Promise<Stamped> {
    return await waitUntil(() => this.entries.slice(from).find((entry) => entry.event.type === type), {
      timeoutMs,
      what: `a "${type}" event (seen: ${this.types().join(', ') || 'none'})`,
      intervalMs: 20,
    });
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.done;
  }
}
