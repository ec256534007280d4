/**
 * Finding the command before campaigning. A typo in the command should fail
 * at once with 127 — not after this host has won an election, started
 * nothing and made every other candidate wait. The same codes come back if the
 * command vanishes between this check and the start: the gate's shell reports
 * them as its exit status (see gate.ts).
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode } from './exit-codes.js';

export type Resolved = { ok: true; file: string } | { ok: false; code: typeof ExitCode.NotFound | typeof ExitCode.NotExecutable; message: string };

/** Like execvp(3): a name with a slash is a path, otherwise it is looked up in PATH. */
export function resolveCommand(name: string, pathVar: string | undefined, cwd: string): Resolved {
  if (name.includes('/')) {
    const file = path.resolve(cwd, name);
    const problem = check(file);
    if (problem === 'missing') return { ok: false, code: ExitCode.NotFound, message: `${name}: command not found (no such file)` };
    if (problem) return { ok: false, code: ExitCode.NotExecutable, message: `${name}: cannot execute (${problem})` };
    return { ok: true, file };
  }
  let denied: string | undefined;
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const file = path.resolve(cwd, dir === '' ? '.' : dir, name);
    const problem = check(file);
    if (problem === undefined) return { ok: true, file };
    // As the shells do: a match that cannot be executed is reported only if
    // no later PATH entry has a runnable one.
    if (problem !== 'missing') denied ??= `${file}: cannot execute (${problem})`;
  }
  if (denied) return { ok: false, code: ExitCode.NotExecutable, message: denied };
  return { ok: false, code: ExitCode.NotFound, message: `${name}: command not found in PATH` };
}

/** Undefined when `file` can be executed, else why not. */
function check(file: string): string | undefined {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    return 'missing';
  }
  if (!isFile) return 'not a regular file';
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return 'permission denied';
  }
  return undefined;
}

/** Exit code and message for a spawn that failed anyway (the file changed after the check). */
export function spawnFailure(error: NodeJS.ErrnoException, name: string): { code: number; message: string } {
  if (error.code === 'ENOENT') return { code: ExitCode.NotFound, message: `${name}: command not found` };
  if (error.code === 'EACCES' || error.code === 'ENOEXEC' || error.code === 'EISDIR') {
    return { code: ExitCode.NotExecutable, message: `${name}: cannot execute (${error.code})` };
  }
  return { code: ExitCode.NotExecutable, message: `${name}: cannot start: ${error.message}` };
}
