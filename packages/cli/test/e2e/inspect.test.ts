/**
 * `elect leader`, `elect candidates`, `elect observe` against a live election.
 */
import { describe, expect, it } from '@jest/globals';
import type { Election } from '@elect/core';
import { connectEtcd } from '@elect/etcd';
import { connectZooKeeper } from '@elect/zk';
import { Elect, electOnce, waitQueued, workerScript } from '../support/elect.js';
import { backends, useScratch, useServer } from '../support/server.js';

/**
 * The inspections below read an election whose leader must not change under
 * them: if `a` stopped leading, say so with its log rather than with a
 * puzzling difference in what `elect leader` printed.
 */
function assertLeading(e: Elect): void {
  if (e.exit !== undefined || e.events('stop').length > 0 || e.events('lost').length > 0) {
    throw new Error(`${e.name} stopped leading while the test inspected the election:\n${e.transcript()}`);
  }
}

describe.each(backends)('%s: inspection', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('leader and candidates: text and JSON; "no leader" is exit 1', async () => {
    const s = scratch();
    const election = server.election('inspect');
    const none = await electOnce(['leader', ...server.args(election)]);
    expect(none.exit.code).toBe(1);
    expect(none.stdout).toEqual([]);
    const noneJson = await electOnce(['leader', ...server.args(election), '--json']);
    expect(noneJson.exit.code).toBe(1);
    expect(noneJson.stdout).toEqual(['null']);

    // a must lead throughout. At --ttl 4s the default --grace (1 s) starts
    // the stop after a stall of the server's answers of under a second
    // (measured: a 900 ms SIGSTOP of ZooKeeper stops it); --grace 100ms
    // keeps a healthy leader through stalls of 1.2 s, as the default --ttl
    // 10s does, so a loaded machine cannot move the leader under the test.
    const a = new Elect('a', [...server.args(election, '--id', 'a', '--value', 'http://a:8080', '--grace', '100ms'), '--', workerScript], s.env);
    const token = (await a.waitLine(/^start a /, 'a to lead')).split(' ')[2] as string;
    const b = new Elect('b', [...server.args(election, '--id', 'b', '--grace', '100ms'), '--', workerScript], s.env);
    await b.waitLog((r) => r.event === 'campaigning' && r.component === undefined, 'b to campaign');

    const text = await electOnce(['leader', ...server.args(election)]);
    assertLeading(a);
    expect(text.exit.code).toBe(0);
    expect(text.stdout).toEqual([`a\t${token}\thttp://a:8080`]);
    const json = await electOnce(['leader', ...server.args(election), '--json']);
    assertLeading(a);
    expect(JSON.parse(json.stdout[0] as string)).toEqual({ id: 'a', value: 'http://a:8080', token, key: expect.any(String) });

    await waitQueued(server.args(election), ['a', 'b']);
    const queue = JSON.parse((await electOnce(['candidates', ...server.args(election), '--json'])).stdout.join('')) as { id: string; token: string }[];
    expect(queue.map((c) => c.id)).toEqual(['a', 'b']);
    expect(BigInt(queue[1]?.token as string)).toBeGreaterThan(BigInt(token));
    const lines = (await electOnce(['candidates', ...server.args(election)])).stdout;
    assertLeading(a);
    expect(lines.map((l) => l.split('\t')[0])).toEqual(['a', 'b']);
  });

  it('observe prints one line per change until interrupted (JSON lines)', async () => {
    const s = scratch();
    const election = server.election('observe');
    const observer = new Elect('observe', ['observe', ...server.args(election), '--json']);
    const first = await observer.waitLine(() => true, 'the first line');
    expect(JSON.parse(first)).toMatchObject({ leader: null });

    const a = new Elect('a', [...server.args(election, '--id', 'a'), '--', workerScript], s.env);
    await observer.waitLine((l) => (JSON.parse(l) as { leader: { id: string } | null }).leader?.id === 'a', 'a as leader');
    const b = new Elect('b', [...server.args(election, '--id', 'b'), '--', workerScript], s.env);
    // b must be queued when a resigns, or the election really has no leader for a moment.
    await waitQueued(server.args(election), ['a', 'b']);
    a.kill('SIGTERM');
    await observer.waitLine((l) => (JSON.parse(l) as { leader: { id: string } | null }).leader?.id === 'b', 'b as leader');
    b.kill('SIGTERM');
    await observer.waitLine((l, ) => l !== first && (JSON.parse(l) as { leader: unknown }).leader === null, 'no leader again');

    observer.kill('SIGINT');
    await expect(observer.waitExit()).resolves.toEqual({ code: 0, signal: null });
    const leaders = observer.stdout.map((l) => (JSON.parse(l) as { leader: { id: string } | null }).leader?.id ?? '-');
    // Each change once, in order (no duplicates of the same leader in a row).
    expect(leaders).toEqual(['-', 'a', 'b', '-']);
  });

  it('observe follows 50 proclaims, one line each, without piling up watch listeners', async () => {
    const election = server.election('proclaims');
    const observer = new Elect('observe', ['observe', ...server.args(election), '--json']);
    await observer.waitLine(() => true, 'the first line');
    const connection: { election(name: string): Election; close(): Promise<void> } =
      backend === 'zk' ? await connectZooKeeper({ connectString: server.connect }) : await connectEtcd({ endpoints: server.connect });
    try {
      const leadership = await connection.election(election).campaign({ id: 'p', value: 'v0' });
      const valueOf = (line: string): string | undefined => (JSON.parse(line) as { leader: { value: string } | null }).leader?.value;
      await observer.waitLine((l) => valueOf(l) === 'v0', 'p as leader');
      // One at a time, each seen before the next: every proclaim re-arms the watches.
      for (let i = 1; i <= 50; i += 1) {
        await leadership.proclaim(`v${i}`);
        await observer.waitLine((l) => valueOf(l) === `v${i}`, `v${i}`);
      }
      await leadership.resign();
    } finally {
      await connection.close();
    }
    observer.kill('SIGINT');
    await expect(observer.waitExit()).resolves.toEqual({ code: 0, signal: null });
    // Node warns on stderr when an emitter holds more than 10 listeners.
    expect(observer.stderr.filter((l) => l.includes('MaxListenersExceededWarning'))).toEqual([]);
  });
});
