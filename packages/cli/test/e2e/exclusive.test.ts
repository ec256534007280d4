/**
 * Of N candidates, only one runs the command at any moment. The worker holds
 * a kernel flock for as long as it lives and says OVERLAP if it finds the lock
 * taken: that is exact, not a guess from timestamps.
 */
import { describe, expect, it } from '@jest/globals';
import { Elect, waitFor, workerScript } from '../support/elect.js';
import { backends, useScratch, useServer } from '../support/server.js';

describe.each(backends)('%s: one command at a time', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('three candidates take turns: each hand-over waits until the last command is gone', async () => {
    const s = scratch();
    const election = server.election('turns');
    let waiting = ['a', 'b', 'c'].map((id) => new Elect(id, [...server.args(election, '--id', id), '--', workerScript], s.env));
    const order: string[] = [];
    while (waiting.length > 0) {
      const pending = waiting;
      const leader = await waitFor(() => pending.find((e) => e.stdout.some((l) => l.startsWith('start '))), 'a leader to start its command', 20_000);
      // Only the leader runs the command.
      expect(waiting.filter((e) => e !== leader && e.stdout.some((l) => l.startsWith('start ')))).toEqual([]);
      order.push(leader.name);
      // SIGTERM reaches the command, which exits 143; elect resigns and
      // exits with that status; the next one takes over.
      leader.kill('SIGTERM');
      await expect(leader.waitExit()).resolves.toEqual({ code: 143, signal: null });
      waiting = waiting.filter((e) => e !== leader);
    }
    expect([...order].sort()).toEqual(['a', 'b', 'c']);
    const markers = s.markers();
    expect(markers.filter((m) => m.startsWith('OVERLAP'))).toEqual([]);
    // start/stop strictly alternate, one candidate at a time.
    expect(markers.map((m) => m.split(' ').slice(0, 2).join(' '))).toEqual(order.flatMap((id) => [`start ${id}`, `stop ${id}`]));
    // Each leader got a larger fencing token than the one before.
    const tokens = markers.filter((m) => m.startsWith('start ')).map((m) => BigInt(m.split(' ')[2] as string));
    expect(tokens).toEqual([...tokens].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(new Set(tokens).size).toBe(3);
  });
});
