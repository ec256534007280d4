import { describe, expect, it } from '@jest/globals';
import { parseArgs } from '../../src/args.js';

describe('parseArgs', () => {
  it('run is the default command; everything after -- is the command, verbatim', async () => {
    const outcome = await parseArgs(['-b', 'zk', '-e', 'jobs', '--', 'sleep', '10', '--ttl', '0x1F']);
    expect(outcome).toMatchObject({ kind: 'command', command: 'run', flags: { backend: 'zk', election: 'jobs', '--': ['sleep', '10', '--ttl', '0x1F'] } });
    expect(await parseArgs(['run', '--backend', 'etcd', '--', 'x'])).toMatchObject({ kind: 'command', command: 'run' });
  });

  it('knows the inspection commands', async () => {
    for (const command of ['leader', 'observe', 'candidates']) {
      expect(await parseArgs([command, '--json', '-b', 'zk', '-e', 'j'])).toMatchObject({ kind: 'command', command, flags: { json: true } });
    }
  });

  it('a repeated flag means the last one', async () => {
    expect(await parseArgs(['--ttl', '5s', '--ttl', '6s', '--', 'x'])).toMatchObject({ flags: { ttl: '6s' } });
  });

  it('rejects unknown flags, and hints at -- for a command given without it', async () => {
    expect(await parseArgs(['--bogus', '--', 'x'])).toEqual({ kind: 'usage', message: 'Unknown argument: bogus' });
    expect(await parseArgs(['-b', 'zk', 'sleep', '5'])).toEqual({
      kind: 'usage',
      message: 'Unknown arguments: sleep, 5 (the command to run goes after `--`: elect run ... -- CMD ARGS)',
    });
    expect(await parseArgs(['leader', '--rejoin'])).toMatchObject({ kind: 'usage', message: expect.stringMatching(/Unknown argument: rejoin/) });
    expect(await parseArgs(['-b', 'consul', '--', 'x'])).toMatchObject({ kind: 'usage', message: expect.stringMatching(/Invalid values: Argument: backend, Given: "consul"/) });
  });

  it('speaks English whatever the locale, so that its hints and our docs match what it prints', async () => {
    const names = ['LC_ALL', 'LC_MESSAGES', 'LANG', 'LANGUAGE'] as const;
    const saved = names.map((name) => process.env[name]);
    for (const name of names) process.env[name] = 'de_DE.UTF-8';
    try {
      expect(await parseArgs(['-b', 'zk', 'sleep', '5'])).toEqual({
        kind: 'usage',
        message: 'Unknown arguments: sleep, 5 (the command to run goes after `--`: elect run ... -- CMD ARGS)',
      });
      expect(await parseArgs(['--help'])).toMatchObject({ kind: 'output', text: expect.stringContaining('Election:') });
    } finally {
      names.forEach((name, i) => {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      });
    }
  });

  it('--help shows usage, examples, environment and exit codes', async () => {
    const outcome = await parseArgs(['--help']);
    expect(outcome.kind).toBe('output');
    const text = (outcome as { text: string }).text;
    for (const part of ['elect [run] --backend zk|etcd --election NAME', 'Examples:', 'ELECT_CONNECT_TIMEOUT', '75    leadership lost', '--grace', 'elect leader']) {
      expect(text).toContain(part);
    }
    expect(await parseArgs(['leader', '--help'])).toMatchObject({ kind: 'output', text: expect.stringContaining('--json') });
    expect(await parseArgs(['--version'])).toEqual({ kind: 'output', text: '0.1.0\n' });
  });
});
