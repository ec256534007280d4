// The priority rules of core, decided from one reading of an election (the
// backends only read, write and wait); the conformance suite runs them on
// every backend.
import { describe, expect, it } from '@jest/globals';
import {
  candidateOrder,
  decodeRecord,
  decodeRequest,
  encodeRecord,
  encodeRequest,
  mixedLayout,
  parsePriorityTag,
  preemptor,
  priorityStep,
  priorityTag,
  takenOver,
  type QueueEntry,
} from '@elect/core/backend';

const entry = (key: string, priority: number | undefined, order: number, preempt = false): QueueEntry => ({ key, priority, preempt, order: BigInt(order) });

describe('priority elections', () => {
  it('tags carry the priority and preempt, and nothing else passes for one', () => {
    expect(priorityTag(5, false)).toBe('prio-5');
    expect(priorityTag(0, true)).toBe('prio-0-preempt');
    expect(parsePriorityTag('prio-5')).toEqual({ priority: 5, preempt: false });
    expect(parsePriorityTag('prio-2147483647-preempt')).toEqual({ priority: 2147483647, preempt: true });
    for (const bad of ['prio-', 'prio-05', 'prio--1', 'prio-2147483648', 'prio-5-pre', 'latch-', 'prio-1x']) expect(parsePriorityTag(bad)).toBeUndefined();
  });

  it('the record and a handover request survive their encoding; a stranger’s data is no record', () => {
    expect(decodeRecord(encodeRecord({ holder: 'a' }))).toEqual({ holder: 'a' });
    expect(decodeRecord(encodeRecord({ holder: 'a', to: 'b' }))).toEqual({ holder: 'a', to: 'b', why: 'handover' });
    expect(decodeRecord(encodeRecord({ holder: 'a', to: 'b', why: 'preempted' }))).toEqual({ holder: 'a', to: 'b', why: 'preempted' });
    expect(decodeRecord(encodeRecord(takenOver('b', { holder: 'a', to: 'b', why: 'preempted' })))).toEqual({ holder: 'b', via: 'preempted' });
    expect(decodeRecord('{"holder":"a","via":"elsewhere"}')).toEqual({ holder: 'a' });
    expect(decodeRecord('worker-1')).toBeUndefined();
    expect(decodeRecord('{"holder":3}')).toBeUndefined();
    expect(decodeRequest(encodeRequest({ to: 'b', token: 12n }))).toEqual({ to: 'b', token: 12n });
    expect(decodeRequest('{"to":"b","token":"-1"}')).toBeUndefined();
  });

  it('each candidate waits for the one just ahead in priority order; the first waits for the record, or takes it', () => {
    const entries = [entry('a', 1, 1), entry('b', 9, 2), entry('c', 9, 3), entry('d', 5, 4)];
    expect(priorityStep('e', entries, undefined, 'b')).toEqual({ kind: 'take' });
    expect(priorityStep('e', entries, { holder: 'a' }, 'b')).toEqual({ kind: 'wait-record' });
    expect(priorityStep('e', entries, { holder: 'a' }, 'c')).toEqual({ kind: 'wait', ahead: entries[1] });
    expect(priorityStep('e', entries, { holder: 'a' }, 'a')).toEqual({ kind: 'lead' });
    expect(priorityStep('e', entries, { holder: 'a', to: 'd' }, 'd')).toEqual({ kind: 'take-over' });
    // Nobody but `to` may take a record that is being handed over.
    expect(priorityStep('e', entries, { holder: 'a', to: 'd' }, 'b')).toEqual({ kind: 'wait-record' });
    expect(priorityStep('e', entries, undefined, 'gone')).toEqual({ kind: 'gone' });
    expect(candidateOrder(entries, { holder: 'a' }).map((e) => e.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(candidateOrder(entries, { holder: 'a', to: 'd' }).map((e) => e.key)).toEqual(['b', 'c', 'd', 'a']);
  });

  it('a plain entry and a priority one never share an election: the older layout keeps it, the newer entry refuses', () => {
    const step = priorityStep('e', [entry('p', undefined, 1), entry('q', 3, 2)], undefined, 'q');
    expect(step).toMatchObject({ kind: 'mixed', error: { code: 'ELECT_MIXED_LAYOUT' } });
    // A newer plain entry is its own mistake: the older priority entry carries on.
    expect(priorityStep('e', [entry('q', 3, 1), entry('p', undefined, 2)], undefined, 'q')).toEqual({ kind: 'take' });
    expect(mixedLayout('e', [entry('q', 3, 1), entry('p', undefined, 2)], undefined, 'p')).toMatchObject({ code: 'ELECT_MIXED_LAYOUT' });
    expect(mixedLayout('e', [entry('p', undefined, 1), entry('q', 3, 2)], undefined, 'p')).toBeUndefined();
    // A record means a priority election, whatever the entries.
    expect(mixedLayout('e', [entry('p', undefined, 1)], { holder: 'gone' }, 'p')).toMatchObject({ code: 'ELECT_MIXED_LAYOUT' });
  });

  it('only a higher priority campaigning with preempt preempts the holder', () => {
    const holder = entry('h', 5, 1);
    expect(preemptor([holder, entry('x', 9, 2)], 'h')).toBeUndefined();
    expect(preemptor([holder, entry('x', 5, 2, true)], 'h')).toBeUndefined();
    expect(preemptor([holder, entry('x', 4, 2, true)], 'h')).toBeUndefined();
    expect(preemptor([holder, entry('x', 6, 2, true), entry('y', 7, 3)], 'h')?.key).toBe('x');
  });
});
