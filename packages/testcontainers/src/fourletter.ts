/**
 * ZooKeeper's four-letter words: the cheapest real request a server answers,
 * used for readiness (`srvr` says whether it serves and in which mode) and by
 * backend tests to observe the server side (`wchs` counts watches, `cons`
 * lists sessions). Our servers enable srvr, mntr, wchs, wchc, cons, ruok, stat.
 */
import net from 'node:net';
import { scaled } from './timing.js';
import type { Member } from './types.js';

export type FourLetterWord = 'srvr' | 'mntr' | 'wchs' | 'wchc' | 'cons' | 'ruok' | 'stat';
export type FourLetterTarget = Member | { host: string; port: number } | string;
export type ZooKeeperMode = 'standalone' | 'leader' | 'follower' | 'observer';

function hostPort(target: FourLetterTarget): { host: string; port: number } {
  if (typeof target === 'string') {
    const at = target.lastIndexOf(':');
    return { host: target.slice(0, at), port: Number(target.slice(at + 1)) };
  }
  return 'clientPort' in target ? { host: target.host, port: target.clientPort } : target;
}

/**
 * Sends `word` and resolves with the whole answer (the server closes the
 * connection when done). Rejects on a connection error, or when no complete
 * answer arrives within `timeoutMs` (base, scaled; default 2000) — which is
 * what a paused or partitioned server does.
 */
export async function fourLetter(
  target: FourLetterTarget,
  word: FourLetterWord,
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const { host, port } = hostPort(target);
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    socket.setTimeout(scaled(options.timeoutMs ?? 2000), () => {
      socket.destroy(new Error(`no answer to ${word} from ${host}:${port}`));
    });
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The `Mode:` of a `srvr` answer, or undefined when the server does not serve (no quorum, starting). */
export function parseMode(srvr: string): ZooKeeperMode | undefined {
  const match = /^Mode: (standalone|leader|follower|observer)\s*$/m.exec(srvr);
  return match?.[1] as ZooKeeperMode | undefined;
}

/** The server's mode right now, or undefined when it answers but does not serve. Rejects when it does not answer. */
export async function zooKeeperMode(target: FourLetterTarget, options: { timeoutMs?: number } = {}): Promise<ZooKeeperMode | undefined> {
  return parseMode(await fourLetter(target, 'srvr', options));
}

/** `Total watches:N` of a `wchs` answer: the number of watches the server holds for all its sessions. */
export function parseWatchCount(wchs: string): number {
  const match = /Total watches:\s*(\d+)/.exec(wchs);
  if (match === null) throw new Error(`not a wchs answer: ${JSON.stringify(wchs)}`);
  return Number(match[1]);
}

/** The number of watches `target` holds right now (`wchs`). */
export async function watchCount(target: FourLetterTarget, options: { timeoutMs?: number } = {}): Promise<number> {
  return parseWatchCount(await fourLetter(target, 'wchs', options));
}
