/**
 * Process facts for tests, read from /proc. A killed process whose new parent
 * has not reaped it yet is a zombie: dead for our purposes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { scaled } from '@elect/test';

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

/** Fields of /proc/<pid>/stat, or undefined when there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after it.
    const [state, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state as string, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) };
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(name));
  }
  return members;
}

/** Polls the kernel (there is no event for another process's death) until `pid` is gone. */
export async function untilGone(pid: number, ms = 5_000): Promise<void> {
  const until = Date.now() + scaled(ms);
  while (alive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still alive after ${scaled(ms)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The content of `file` once it exists (written by a child with write-then-rename). */
export async function waitForFile(file: string, ms = 5_000): Promise<string> {
  const until = Date.now() + scaled(ms);
  for (;;) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      if (Date.now() > until) throw new Error(`${file} did not appear within ${scaled(ms)} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
