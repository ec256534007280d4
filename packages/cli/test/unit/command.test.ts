import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolveCommand, spawnFailure } from '../../src/command.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'elect-cmd-'));
  mkdirSync(path.join(dir, 'a'));
  mkdirSync(path.join(dir, 'b'));
  writeFileSync(path.join(dir, 'a', 'tool'), '#!/bin/sh\n');
  chmodSync(path.join(dir, 'a', 'tool'), 0o644);
  writeFileSync(path.join(dir, 'b', 'tool'), '#!/bin/sh\n');
  chmodSync(path.join(dir, 'b', 'tool'), 0o755);
  writeFileSync(path.join(dir, 'a', 'plain'), 'data');
  mkdirSync(path.join(dir, 'a', 'subdir'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveCommand', () => {
  it('looks names up in PATH, skipping entries it cannot execute', () => {
    expect(resolveCommand('tool', `${dir}/a:${dir}/b`, '/')).toEqual({ ok: true, file: `${dir}/b/tool` });
    expect(resolveCommand('sh', '/usr/bin:/bin', '/')).toMatchObject({ ok: true });
  });

  it('127 when nothing is found, 126 when only something unexecutable is', () => {
    expect(resolveCommand('nope', `${dir}/a`, '/')).toEqual({ ok: false, code: 127, message: 'nope: command not found in PATH' });
    expect(resolveCommand('plain', `${dir}/a`, '/')).toEqual({ ok: false, code: 126, message: `${dir}/a/plain: cannot execute (permission denied)` });
  });

  it('takes a name with a slash as a path, relative to cwd', () => {
    expect(resolveCommand('./b/tool', '', dir)).toEqual({ ok: true, file: `${dir}/b/tool` });
    expect(resolveCommand('./missing', '', dir)).toMatchObject({ ok: false, code: 127 });
    expect(resolveCommand('./a/tool', '', dir)).toMatchObject({ ok: false, code: 126, message: './a/tool: cannot execute (permission denied)' });
    expect(resolveCommand(`${dir}/a/subdir`, '', '/')).toMatchObject({ ok: false, code: 126, message: expect.stringContaining('not a regular file') });
  });

  it('maps spawn errors the same way', () => {
    const error = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    expect(spawnFailure(error('ENOENT'), 'x').code).toBe(127);
    expect(spawnFailure(error('EACCES'), 'x').code).toBe(126);
  });
});
