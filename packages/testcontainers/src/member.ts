/**
 * One server in a container: the Member API on top of the engine's own
 * lifecycle (stop/start keep the container, so its data and ports stay).
 */
import type { ContainerRuntimeClient } from 'testcontainers';
import { TimeoutError, waitUntil } from './timing.js';
import type { Member } from './types.js';

export type DockerContainer = ReturnType<ContainerRuntimeClient['container']['getById']>;

/** Seconds `docker stop` waits after SIGTERM before it sends SIGKILL. */
const STOP_GRACE_S = 10;

/** Base budget (scaled) for a member to serve after its container starts. */
export const START_TIMEOUT_MS = 60_000;

export interface ContainerMemberInit {
  name: string;
  clientPort: number;
  client: ContainerRuntimeClient;
  container: DockerContainer;
  /** One real request with its own timeout; resolves only if the server serves. */
  probe: () => Promise<void>;
}

export class ContainerMember implements Member {
  readonly name: string;
  readonly host = '127.0.0.1';
  readonly clientPort: number;
  readonly pid = undefined;
  readonly container: DockerContainer;
  #running = true;
  #paused = false;
  readonly #client: ContainerRuntimeClient;
  readonly #probe: () => Promise<void>;

  constructor(init: ContainerMemberInit) {
    this.name = init.name;
    this.clientPort = init.clientPort;
    this.container = init.container;
    this.#client = init.client;
    this.#probe = init.probe;
  }

  get clientAddress(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get running(): boolean {
    return this.#running;
  }

  /** True between pause() and resume(): the server hangs and cannot answer. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Resolves once this member answers a real request (never while paused);
   * rejects early, with the container's last log lines, if it exits.
   */
  async waitServing(): Promise<void> {
    const exited = new AbortController();
    const probe = async (): Promise<boolean> => {
      try {
        await this.#probe();
        return true;
      } catch (error) {
        const state = await this.container.inspect().then(
          (info) => info.State,
          () => undefined,
        );
        if (state !== undefined && !state.Running) {
          exited.abort(
            new Error(`${this.name} exited while starting (code ${state.ExitCode}):\n${await this.logTail()}`),
          );
        }
        throw error;
      }
    };
    try {
      await waitUntil(probe, {
        timeoutMs: START_TIMEOUT_MS,
        what: `${this.name} (${this.clientAddress}) to serve`,
        signal: exited.signal,
      });
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new Error(`${error.message}; its log:\n${await this.logTail()}`, { cause: error });
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    // A frozen process cannot act on SIGTERM: let it run so it can stop.
    await this.resume();
    await this.container.stop({ t: STOP_GRACE_S }).catch(ignoreNotRunning);
    await this.#waitExited();
    this.#running = false;
  }

  async kill(): Promise<void> {
    if (!this.#running) return;
    // SIGKILL stays pending on a frozen process until it thaws.
    await this.resume();
    await this.container.kill({ signal: 'SIGKILL' }).catch(ignoreNotRunning);
    await this.#waitExited();
    this.#running = false;
  }

  async start(): Promise<void> {
    if (!this.#running) {
      await this.#client.container.start(this.container);
      this.#running = true;
    }
    await this.waitServing();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async pause(): Promise<void> {
    if (!this.#running || this.#paused) return;
    await this.container.pause();
    this.#paused = true;
  }

  async resume(): Promise<void> {
    if (!this.#paused) return;
    await this.container.unpause();
    this.#paused = false;
  }

  /** Removes the container and its anonymous volumes, whatever its state. */
  async remove(): Promise<void> {
    this.#running = false;
    this.#paused = false;
    await this.container.remove({ force: true, v: true }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    });
  }

  /** The last lines of the container's output, for error messages. */
  async logTail(lines = 40): Promise<string> {
    try {
      const raw = (await this.container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as Buffer;
      return demux(raw);
    } catch (err) {
      return `(no logs: ${err instanceof Error ? err.message : String(err)})`;
    }
  }

  /** Resolves once the engine reports the container not running. */
  async #waitExited(): Promise<void> {
    await this.container.wait({ condition: 'not-running' });
  }
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err
    ? (err as { statusCode?: number }).statusCode
    : undefined;
}

/** `docker stop`/`kill` of a container that already exited is not a failure here. */
function ignoreNotRunning(err: unknown): void {
  const status = statusOf(err);
  if (status === 304 || status === 409) return;
  throw err;
}

/**
 * Container logs without a TTY come as frames: 8 header bytes (stream, 0, 0,
 * 0, big-endian length) then the payload.
 */
function demux(raw: Buffer): string {
  if (!Buffer.isBuffer(raw)) return String(raw);
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const length = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}
