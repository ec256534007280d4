/**
 * The fenced store: the resource every leader in the soak writes to, run by
 * the soak itself. It plays what a real fenced resource does — a write is
 * accepted only with a fencing token at least as high as the highest it has
 * accepted — and records everything on its own clock, for the checker.
 *
 * A candidate opens one TCP connection per term of leadership and speaks
 * lines:
 *
 *   hello <id> <token> <elected-at-ns> <pid>   → ok
 *   w <seq>                                    → ok | stale
 *   bye                                        → bye   (then the candidate closes)
 *
 * The term, as the store sees it, lasts from `hello` until `bye` or until the
 * connection closes — which the kernel does the moment the candidate's
 * process dies, however it dies. So a term's end is never earlier than the
 * moment its writer stopped: the checker can only over-count overlaps, never
 * miss one. A frozen writer (SIGSTOP) keeps its connection: its term goes on,
 * as it would think it does.
 *
 * Times are `process.hrtime.bigint()`: CLOCK_MONOTONIC, the same clock for
 * every process on the host, so the candidates' own stamps (`elected-at`)
 * compare with the store's.
 */
import net from 'node:net';

export const now = (): bigint => process.hrtime.bigint();

export interface Write {
  at: bigint;
  accepted: boolean;
}

export interface Term {
  /** Which connection: unique per store. */
  serial: number;
  id: string;
  token: bigint;
  /** The candidate's own clock reading when it was elected. */
  electedAt: bigint;
  pid: number;
  /** When the store heard `hello`. */
  startAt: bigint;
  /** When it heard `bye` or saw the connection close; undefined while open. */
  endAt: bigint | undefined;
  /** True when it ended with `bye` (the writer stopped on its own). */
  graceful: boolean;
  writes: Write[];
}

export class FencedStore {
  readonly terms: Term[] = [];
  /** The highest token of an accepted write. */
  private highest = -1n;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private serial = 0;
  private listeners: (() => void)[] = [];

  private constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(host = '127.0.0.1'): Promise<FencedStore> {
    const store = new FencedStore();
    await new Promise<void>((resolve, reject) => {
      store.server.once('error', reject);
      store.server.listen(0, host, () => resolve());
    });
    return store;
  }

  get address(): string {
    const address = this.server.address() as net.AddressInfo;
    return `${address.address}:${address.port}`;
  }

  /** Terms still open, newest token first. */
  open(): Term[] {
    return this.terms.filter((term) => term.endAt === undefined).sort((a, b) => (a.token > b.token ? -1 : a.token < b.token ? 1 : 0));
  }

  /** Resolves once `probe` holds, re-checked on every store event; rejects after `ms`. */
  until<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const value = probe();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((fn) => fn !== listener);
      };
      const listener = (): void => void check();
      if (check()) return;
      this.listeners.push(listener);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private changed(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let term: Term | undefined;
    let buffered = '';
    const end = (graceful: boolean): void => {
      if (term && term.endAt === undefined) {
        term.endAt = now();
        term.graceful = graceful;
        this.changed();
      }
    };
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const line = buffered.slice(0, at).trim();
        buffered = buffered.slice(at + 1);
        const [verb, ...args] = line.split(' ');
        if (verb === 'hello' && !term && args.length === 4) {
          const [id, token, electedAt, pid] = args as [string, string, string, string];
          term = {
            serial: ++this.serial,
            id,
            token: BigInt(token),
            electedAt: BigInt(electedAt),
            pid: Number(pid),
            startAt: now(),
            endAt: undefined,
            graceful: false,
            writes: [],
          };
          this.terms.push(term);
          socket.write('ok\n');
          this.changed();
        } else if (verb === 'w' && term && term.endAt === undefined) {
          const accepted = term.token >= this.highest;
          if (accepted) this.highest = term.token;
          term.writes.push({ at: now(), accepted });
          socket.write(accepted ? 'ok\n' : 'stale\n');
          this.changed();
        } else if (verb === 'bye' && term) {
          end(true);
          socket.end('bye\n');
        } else {
          socket.destroy(new Error(`bad line: ${line}`));
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      end(false);
    });
  }
}

/** A writer's side of one term: what candidates use. */
export class StoreClient {
  private socket: net.Socket | undefined;
  private pending: ((line: string) => void)[] = [];
  private closed: Promise<void> | undefined;

  constructor(private readonly address: string) {}

  async hello(id: string, token: bigint, electedAt: bigint): Promise<void> {
    const at = this.address.lastIndexOf(':');
    const socket = net.connect(Number(this.address.slice(at + 1)), this.address.slice(0, at));
    socket.setNoDelay(true);
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        this.pending.shift()?.(line);
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      for (const fn of this.pending.splice(0)) fn('closed');
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    await this.ask(`hello ${id} ${token} ${electedAt} ${process.pid}`);
  }

  /** One write: 'ok', 'stale' (fenced off) or 'closed'. */
  write(seq: number): Promise<string> {
    return this.ask(`w ${seq}`);
  }

  /** Ends the term: the store has recorded its end when this resolves. */
  async bye(): Promise<void> {
    if (!this.socket) return;
    await this.ask('bye');
    this.socket.end();
    await this.closed;
    this.socket = undefined;
  }

  private ask(line: string): Promise<string> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      this.pending.push(resolve);
      socket.write(`${line}\n`);
    });
  }
}
