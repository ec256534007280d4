/**
 * Process facts for tests, read from /proc. A killed process whose new parent
 * has not reaped it yet is a zombie: dead for our purposes.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
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

/** What a descriptor of `pid` refers to (`socket:[123]`, a path, …), or undefined. */
export function fdTarget(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Processes that have a descriptor open on one of `targets` (as `fdTarget` names them). */
export function holdersOf(targets: readonly string[]): number[] {
  const holders: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    if (fds.some((fd) => targets.includes(fdTarget(Number(name), Number(fd)) ?? ''))) holders.push(Number(name));
  }
  return holders;
}

/** One line about `pid` for a failure message: ids, state and command line. */
export function describeProcess(pid: number): string {
  const stat = procStat(pid);
  if (!stat) return `pid ${pid} (gone)`;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // exited while we looked
  }
  return `pid ${pid} pgid ${stat.pgrp} sid ${stat.session} ppid ${stat.ppid} state ${stat.state}: ${cmdline}`;
}
