/**
 * One state value per candidate, moved only through `transition()`, which
 * refuses illegal edges and notifies only when something actually changed.
 */
import type { CandidateState } from './contract.js';

type Kind<S extends { kind: string }> = S['kind'];

export class StateMachine<S extends { readonly kind: string }> {
  private current: S;

  constructor(
    initial: S,
    private readonly edges: { readonly [K in Kind<S>]: readonly Kind<S>[] },
    private readonly onChange: (next: S, previous: S) => void = () => {},
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  /** True if `kind` may follow the current state. */
  can(kind: Kind<S>): boolean {
    return kind === this.current.kind || (this.edges[this.current.kind as Kind<S>] ?? []).includes(kind);
  }

  /**
   * Moves to `next`. Returns false (and notifies nobody) when `next` equals the
   * current state; throws on an edge the table does not allow — a bug, never
   * an expected runtime condition.
   */
  transition(next: S): boolean {
    if (shallowEqual(next, this.current)) return false;
    if (!this.can(next.kind as Kind<S>)) {
      throw new Error(`illegal state transition ${this.current.kind} -> ${next.kind}`);
    }
    const previous = this.current;
    this.current = next;
    this.onChange(next, previous);
    return true;
  }
}

function shallowEqual(a: object, b: object): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  return ak.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/** The legal edges of a candidate's life. */
export const candidateEdges: { readonly [K in CandidateState['kind']]: readonly CandidateState['kind'][] } = {
  idle: ['campaigning', 'closed'],
  campaigning: ['leader', 'idle', 'closed'],
  leader: ['suspended', 'lost', 'closed'],
  suspended: ['leader', 'lost', 'closed'],
  lost: ['campaigning', 'idle', 'closed'],
  closed: [],
};

export function candidateStateMachine(
  onChange?: (next: CandidateState, previous: CandidateState) => void,
): StateMachine<CandidateState> {
  return new StateMachine<CandidateState>({ kind: 'idle' }, candidateEdges, onChange);
}
