/**
 * The floor under a Node candidate's graceful handoff, for `pnpm bench:peers`:
 * the recipe's round trips in a bare Node program, and nothing else. On
 * ZooKeeper Curator's: an ephemeral-sequential latch node, the children
 * listed, an exists watch on the one just before ours. On etcd Go's Campaign
 * and waitDeletes, over elect's own gRPC client: a put, a read of the key
 * just before ours, a deletes-only watch on it, a read again once it goes.
 * SIGTERM deletes our entry and exits; with a command after `--` it is run
 * once we lead, and stopped (SIGTERM, then its exit awaited) before that.
 *
 * Not a candidate anyone should run: no loss deadline, no session liveness,
 * no check that our entry is still ours, no retries, no lease (etcd keys
 * outlive a crash). It shows what a handoff costs a Node process before any
 * of elect's code runs: the gap from it to elect is elect's, the gap from it
 * to the Go and Java tools is Node's.
 *
 *   node floor.js zk|etcd CONNECT ELECTION [-- COMMAND ARGS…]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
// elect's own gRPC client, which @elect/etcd does not export: the floor must
// talk to etcd exactly as elect does, or the gap would measure the client.
// eslint-disable-next-line no-restricted-imports
import { MemberClient } from '../../packages/etcd/dist/wire/client.js';
// eslint-disable-next-line no-restricted-imports
import { SortOrder, SortTarget, WatchFilter } from '../../packages/etcd/dist/wire/messages.js';

const [backend, connect, election, dashes, ...command] = process.argv.slice(2) as [string, string, string, string | undefined, ...string[]];
if (dashes !== undefined && dashes !== '--') throw new Error(`expected -- before the command, got ${dashes}`);
const payload = JSON.stringify({ id: `floor-${process.pid}` });

interface Entry {
  /** Resolves once our entry is first. */
  lead(): Promise<void>;
  remove(): Promise<void>;
}

function zk(): Promise<Entry> {
  const client = zookeeper.createClient(connect, { sessionTimeout: 2000, retries: 0 });
  const call = <T>(op: (done: (error: unknown, value: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => op((error, value) => (error ? reject(error as Error) : resolve(value))));
  return new Promise((resolve) => {
    client.once('connected', async () => {
      await call<string>((done) => client.mkdirp(election, done));
      const path = await call<string>((done) =>
        client.create(`${election}/_c_${randomUUID()}-latch-`, Buffer.from(payload), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, done),
      );
      const name = path.slice(election.length + 1);
      const sequence = (child: string): string => child.slice(-10);
      resolve({
        lead: async () => {
          for (;;) {
            const children = (await call<string[]>((done) => client.getChildren(election, done))).sort((a, b) => sequence(a).localeCompare(sequence(b)));
            const at = children.indexOf(name);
            if (at === 0) return;
            const woken = new Promise<void>((wake) => {
              client.exists(`${election}/${children[at - 1]}`, () => wake(), (error, stat) => (error || !stat ? wake() : undefined));
            });
            await woken;
          }
        },
        remove: () => call<void>((done) => client.remove(path, -1, done)),
      });
    });
    client.connect();
  });
}

async function etcd(): Promise<Entry> {
  const client = new MemberClient(connect.replace(/^https?:\/\//, ''), { operationTimeoutMs: 5000 });
  const prefix = Buffer.from(`${election}/`);
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  const key = Buffer.from(`${election}/${process.pid.toString(16)}${randomUUID().slice(0, 8)}`);
  const put = await client.txn({ compare: [], success: [{ request_put: { key, value: Buffer.from(payload) } }], failure: [] });
  const created = BigInt(put.header.revision);
  return {
    lead: async () => {
      for (;;) {
        const before = await client.range({
          key: prefix,
          range_end: end,
          sort_order: SortOrder.Descend,
          sort_target: SortTarget.Create,
          max_create_revision: (created - 1n).toString(),
          limit: 1,
        });
        const ahead = before.kvs[0];
        if (!ahead) return;
        const stream = await client.watch();
        await new Promise<void>((wake) => {
          stream.onMessage((res) => {
            if ((res.events ?? []).length > 0) wake();
          });
          stream.onEnd(() => wake());
          stream.write({ create_request: { key: ahead.key, start_revision: (BigInt(before.header.revision) + 1n).toString(), filters: [WatchFilter.NoPut] } });
        });
        stream.cancel();
      }
    },
    remove: async () => void (await client.txn({ compare: [], success: [{ request_delete_range: { key } }], failure: [] })),
  };
}

const entry = await (backend === 'zk' ? zk() : etcd());
let child: ChildProcess | undefined;
process.once('SIGTERM', async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await entry.remove();
  process.exit(0);
});
await entry.lead();
if (command.length > 0) child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
else process.stdout.write('leading\n');
