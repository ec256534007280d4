import { describe, expect, it } from '@jest/globals';
import { type CandidateState } from '@elect/core';
import { StateMachine, candidateStateMachine } from '@elect/core/backend';

describe('StateMachine', () => {
  it('moves along legal edges and notifies only on change', () => {
    const changes: [string, string][] = [];
    const machine = candidateStateMachine((next, previous) => changes.push([previous.kind, next.kind]));
    expect(machine.state).toEqual({ kind: 'idle' });
    expect(machine.transition({ kind: 'campaigning' })).toBe(true);
    expect(machine.transition({ kind: 'campaigning' })).toBe(false);
    expect(machine.transition({ kind: 'leader', token: 3n })).toBe(true);
    expect(machine.transition({ kind: 'suspended', token: 3n, deadline: 100 })).toBe(true);
    expect(machine.transition({ kind: 'suspended', token: 3n, deadline: 100 })).toBe(false);
    expect(machine.transition({ kind: 'suspended', token: 3n, deadline: 200 })).toBe(true);
    expect(machine.transition({ kind: 'leader', token: 3n })).toBe(true);
    expect(machine.transition({ kind: 'lost', reason: 'deadline' })).toBe(true);
    expect(machine.transition({ kind: 'campaigning' })).toBe(true);
    expect(machine.transition({ kind: 'closed' })).toBe(true);
    expect(changes).toEqual([
      ['idle', 'campaigning'],
      ['campaigning', 'leader'],
      ['leader', 'suspended'],
      ['suspended', 'suspended'],
      ['suspended', 'leader'],
      ['leader', 'lost'],
      ['lost', 'campaigning'],
      ['campaigning', 'closed'],
    ]);
  });

  it('refuses illegal edges without notifying', () => {
    const changes: CandidateState[] = [];
    const machine = candidateStateMachine((next) => changes.push(next));
    expect(machine.can('leader')).toBe(false);
    expect(() => machine.transition({ kind: 'leader', token: 1n })).toThrow('illegal state transition idle -> leader');
    machine.transition({ kind: 'closed' });
    expect(() => machine.transition({ kind: 'idle' })).toThrow(/closed -> idle/);
    expect(changes).toEqual([{ kind: 'closed' }]);
    expect(machine.state).toEqual({ kind: 'closed' });
  });

  it('works for any discriminated union', () => {
    type Door = { kind: 'open' } | { kind: 'shut'; locked: boolean };
    const door = new StateMachine<Door>({ kind: 'open' }, { open: ['shut'], shut: ['open'] });
    expect(door.transition({ kind: 'shut', locked: false })).toBe(true);
    expect(door.transition({ kind: 'shut', locked: true })).toBe(true);
    expect(door.transition({ kind: 'shut', locked: true })).toBe(false);
  });
});
