/**
 * The watch on our own node, at the moment we become leader: an operator
 * deletes the node while the confirming `exists` is being answered, and the
 * reply and the deletion's notification reach the client in one read (a
 * proxy holds them back and hands both over in one write, as a busy event
 * loop would read them). The library fires the watcher synchronously, before
 * the code awaiting the reply has run; the deletion must still be seen, so
 * that nobody leads on a node that no longer exists.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { scaled, type Cluster } from '@elect/test';
import { ReplyDropper } from './support/reply-dropper.js';
import { RecordingLogger, children, connect, rawClient, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(60_000));

const existsOp = 3;

let cluster: Cluster;
let proxy: ReplyDropper;
beforeAll(async () => {
  cluster = await startServer(1);
  const member = cluster.members[0]!;
  proxy = await ReplyDropper.start({ host: member.host, port: member.clientPort });
});
afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

function exists(client: zookeeper.Client, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => client.exists(path, (error, stat) => (error ? reject(error) : resolve(stat !== null))));
}

function remove(client: zookeeper.Client, path: string): Promise<void> {
  return new Promise((resolve, reject) => client.remove(path, -1, (error) => (error ? reject(error) : resolve())));
}

describe("the leader's own node", () => {
  test('deleted while the confirming exists is answered: the deletion is seen, and the leader stands on a live node', async () => {
    const logger = new RecordingLogger();
    const connection = await connect(proxy.address, { logger });
    const name = uniqueName('own-watch');
    const path = `/elect/${name}`;
    const election = connection.election(name);
    const admin = await rawClient(cluster.connectString);
    try {
      const hold = proxy.hold(existsOp, `${path}/`);
      const campaign = election.campaign({ id: 'first' });
      await hold.holding; // our node is first; the server answered the exists that confirms it (its watch is set)
      const [node] = await children(admin, path);
      await remove(admin, `${path}/${node}`);
      await hold.notified;
      hold.release(); // the reply and the NodeDeleted notification, in one read
      const leadership = await campaign;
      expect(leadership.key).not.toBe(`${path}/${node}`);
      expect(await exists(admin, leadership.key)).toBe(true);
      expect(leadership.isLeader).toBe(true);
      await leadership.resign();
      expect(await children(admin, path)).toEqual([]);
    } finally {
      admin.close();
      await election.close();
      await connection.close();
    }
  });
});
