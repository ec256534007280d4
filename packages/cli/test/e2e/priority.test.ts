/**
 * Priority elections from the command line: `--priority`, `--preempt`,
 * `elect candidates` showing priorities, and `elect handover --to ID`. A
 * preempted or handed-over leader stops its command gracefully (SIGTERM)
 * before the next one starts: the worker's kernel lock reports any overlap.
 */
import { describe, expect, it } from '@jest/globals';
import { Elect, electOnce, waitQueued, workerScript } from '../support/elect.js';
import { backends, useScratch, useServer } from '../support/server.js';

describe.each(backends)('%s: priority', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('--preempt: the leader of lower priority stops its command (SIGTERM), then the preemptor runs; with --rejoin the loser queues again; observe shows it', async () => {
    const s = scratch();
    const election = server.election('preempt');
    const observer = new Elect('observer', ['observe', ...server.args(election), '--json'], s.env);
    const low = new Elect('low', [...server.args(election, '--id', 'low', '--priority', '1', '--rejoin'), '--', workerScript], s.env);
    await low.waitLine(/^start low /, 'low to lead');
    const candidates = await electOnce(['candidates', ...server.args(election)]);
    expect(candidates.stdout.map((line) => line.split('\t')).map(([id, , , priority]) => [id, priority])).toEqual([['low', '1']]);

    const high = new Elect('high', [...server.args(election, '--id', 'high', '--priority', '5', '--preempt'), '--', workerScript], s.env);
    await high.waitLine(/^start high /, 'high to lead after preempting low');
    await low.waitLog((r) => r.event === 'lost' && r.reason === 'preempted', 'low to log the preemption');
    // Its old entry is gone once it says it rejoins (a queue read before that may still show it).
    await low.waitLog((r) => r.event === 'rejoining', 'low to rejoin');
    // The order the commands ran in, across both: low stopped on SIGTERM before high started.
    expect(s.markers()).toEqual([
      expect.stringMatching(/^start low /),
      'stop low TERM',
      expect.stringMatching(/^start high /),
    ]);
    await waitQueued(server.args(election), ['high', 'low']);
    const seen = await observer.waitLine((line) => line.includes('"high"'), 'the observer to see high lead');
    expect(JSON.parse(seen).leader).toMatchObject({ id: 'high', priority: 5, preempt: true, via: 'preempted' });
    observer.kill('SIGTERM');
    await expect(observer.waitExit()).resolves.toMatchObject({ code: 0 });
    const json = JSON.parse((await electOnce(['candidates', ...server.args(election), '--json'])).stdout.join('')) as Array<{ id: string; priority: number; preempt: boolean }>;
    expect(json.map(({ id, priority, preempt }) => ({ id, priority, preempt }))).toEqual([
      { id: 'high', priority: 5, preempt: true },
      { id: 'low', priority: 1, preempt: false },
    ]);

    // A plain campaign in a priority election is refused, naming the problem (64), and leaves nothing.
    const plain = await electOnce([...server.args(election, '--id', 'plain'), '--', workerScript], s.env);
    expect(plain.exit.code).toBe(64);
    expect(plain.stderr.join('\n')).toMatch(/priority election/);
    await waitQueued(server.args(election), ['high', 'low']);

    high.kill('SIGTERM');
    await expect(high.waitExit()).resolves.toMatchObject({ code: 143 });
    await low.waitLine((line) => line.startsWith('start low ') && s.markers().filter((m) => m.startsWith('start low')).length === 2, 'low to lead again');
    expect(s.markers().some((m) => m.startsWith('OVERLAP'))).toBe(false);
    low.kill('SIGTERM');
    await low.waitExit();
  });

  it('elect handover --to ID: the leader stops its command, ID runs next (past a higher priority), and the new leader is printed', async () => {
    const s = scratch();
    const election = server.election('handover');
    const old = new Elect('old', [...server.args(election, '--id', 'old', '--priority', '5'), '--', workerScript], s.env);
    await old.waitLine(/^start old /, 'old to lead');
    const top = new Elect('top', [...server.args(election, '--id', 'top', '--priority', '9'), '--', workerScript], s.env);
    const chosen = new Elect('chosen', [...server.args(election, '--id', 'chosen', '--priority', '1'), '--', workerScript], s.env);
    await waitQueued(server.args(election), ['old', 'top', 'chosen']);

    const missing = await electOnce(['handover', ...server.args(election), '--to', 'nobody']);
    expect(missing.exit.code).toBe(64);
    expect(missing.stderr.join('\n')).toMatch(/no candidate "nobody" is waiting/);

    const asked = await electOnce(['handover', ...server.args(election), '--to', 'chosen']);
    expect(asked.exit.code).toBe(0);
    expect(asked.stdout).toEqual([expect.stringMatching(/^chosen\t\d+\tchosen\t1\thandover$/)]);
    await chosen.waitLine(/^start chosen /, 'chosen to lead');
    // Without --rejoin the old leader ends, as for any loss (75), after its command stopped.
    await expect(old.waitExit()).resolves.toMatchObject({ code: 75 });
    expect(s.markers()).toEqual([expect.stringMatching(/^start old /), 'stop old TERM', expect.stringMatching(/^start chosen /)]);
    for (const e of [chosen, top]) e.kill('SIGTERM');
    await chosen.waitExit();
    await top.waitExit();
  });
});
