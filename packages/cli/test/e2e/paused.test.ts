/**
 * The leading `elect` is frozen (SIGSTOP; a stuck event loop or a long GC
 * pause does the same) while its command is not. `elect` cannot stop the
 * command, yet the server will expire its session / lease and elect someone
 * else. The watchdog, which runs in its own session and is not frozen, holds
 * the loss deadline `elect` last told it and kills the command's group there
 * — before the server can hand leadership on. (A frozen VM freezes the
 * command too; then only fencing protects the data.)
 */
import { describe, expect, it } from '@jest/globals';
import { Elect, workerScript } from '../support/elect.js';
import { alive } from '../support/proc.js';
import { backends, ttlMs, useScratch, useServer } from '../support/server.js';

describe.each(backends)('%s: the leading elect frozen, its command not', (backend) => {
  const server = useServer(backend);
  const scratch = useScratch();

  it('the watchdog kills the command at the loss deadline, before another candidate starts; continued, elect reports the loss', async () => {
    const s = scratch();
    const election = server.election('paused');
    const a = new Elect('a', [...server.args(election, '--id', 'a'), '--', workerScript], s.env);
    await a.waitLine(/^start a /, 'a to start its command');
    const b = new Elect('b', [...server.args(election, '--id', 'b'), '--', workerScript], s.env);
    await b.waitLog((r) => r.event === 'campaigning' && r.component === undefined, 'b to campaign');
    const child = a.childPid as number;

    const frozenAt = performance.now();
    a.kill('SIGSTOP');
    // b's command says OVERLAP if a's still holds the lock when b takes over.
    const first = await b.waitLine(/^(start|OVERLAP) b/, 'b to take over', ttlMs + 10_000);
    const takeoverMs = performance.now() - frozenAt;
    expect(first).toMatch(/^start b /);
    expect(alive(child)).toBe(false);
    process.stdout.write(`${backend}: elect frozen; b started ${Math.round(takeoverMs)} ms later (ttl ${ttlMs} ms)\n`);

    a.kill('SIGCONT');
    await expect(a.waitExit()).resolves.toEqual({ code: 75, signal: null });
    expect(s.markers().filter((m) => m.startsWith('OVERLAP'))).toEqual([]);
    expect(await b.killAndReap()).toBeUndefined();
  });
});
