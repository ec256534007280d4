/**
 * Drives test/interop/LatchParticipants.java: Apache Curator LeaderLatch
 * participants in one JVM (one session each), compiled with javac against
 * Debian's jars into a temp dir. Lines it prints are kept in order; tests
 * wait for the one they expect.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@elect/test';

const javaDir = '/usr/share/java';
const jars = [
  'curator-client.jar',
  'curator-framework.jar',
  'curator-recipes.jar',
  'zookeeper.jar',
  'zookeeper-jute.jar',
  'slf4j-api.jar',
  'slf4j-nop.jar',
  'guava.jar',
].map((jar) => path.join(javaDir, jar));

const source = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'interop', 'LatchParticipants.java');

export function curatorMissing(): string | undefined {
  const missing = jars.filter((jar) => !fs.existsSync(jar));
  return missing.length > 0 ? `missing jars: ${missing.join(', ')} (apt-get install libcurator-recipes-java zookeeper)` : undefined;
}

/** Compiles the driver into a fresh temp dir; returns the classpath to run it with. */
export async function compileDriver(): Promise<{ classpath: string; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-zk-interop-'));
  const classpath = jars.join(':');
  await promisify(execFile)('javac', ['-d', dir, '-cp', classpath, source]);
  return { classpath: `${dir}:${classpath}`, dir };
}

export class CuratorDriver {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(classpath: string, connectString: string, latchPath: string, sessionTimeoutMs: number) {
    this.child = spawn('java', ['-Xmx128m', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'LatchParticipants', connectString, latchPath, String(sessionTimeoutMs)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let partial = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((line) => line.length > 0));
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  send(command: string): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /** Waits (base ms) for a line matching `pattern` after line index `from`; returns its index and text. */
  async expect(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<{ index: number; line: string }> {
    return await waitUntil(
      () => {
        for (let index = from; index < this.lines.length; index += 1) {
          const line = this.lines[index] as string;
          if (line.startsWith('ERROR')) throw new Error(`Curator driver: ${line}`);
          if (pattern.test(line)) return { index, line };
        }
        return undefined;
      },
      { timeoutMs, what: `Curator driver line ${pattern} (got: ${this.lines.slice(from).join(' | ')})`, intervalMs: 20 },
    );
  }

  /** Asks a question and returns the answer line's payload. */
  async ask(command: 'leader' | 'participants'): Promise<string> {
    const from = this.lines.length;
    this.send(command);
    const { line } = await this.expect(command === 'leader' ? /^CURRENT / : /^PARTICIPANTS/, from);
    return line.replace(/^\S+ ?/, '');
  }

  async quit(): Promise<void> {
    if (this.child.exitCode === null) {
      this.send('quit');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
