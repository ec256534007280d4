#!/usr/bin/env node
// The inner half of a network-namespace bridge (see netns.ts): runs inside the
// namespace, listens on Unix sockets (which, being files, the test process in
// the machine's namespace can reach) and forwards each connection to a TCP
// address inside the namespace.
//   node forwarder.mjs /tmp/…/a-0.sock=127.0.0.2:41234 /tmp/…/a-1.sock=127.0.0.3:41240
// Errors reset both sides, as a network would; nothing is buffered or retried.
import fs from 'node:fs';
import net from 'node:net';
import process from 'node:process';

function forward(socketPath, host, port) {
  fs.rmSync(socketPath, { force: true });
  // Half-open stays open: a client's FIN after its request must not cut off the answer.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    const reset = () => {
      if (!client.destroyed) client.destroy(); // a Unix socket has no RST
      // A reset is refused once we have ended the socket (and Node then leaks it).
      if (upstream.destroyed) return;
      if (upstream.writableEnded) upstream.destroy();
      else upstream.resetAndDestroy();
    };
    client.on('error', reset);
    upstream.on('error', reset);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(socketPath);
}

for (const mapping of process.argv.slice(2)) {
  const match = /^(.+)=(.+):(\d+)$/.exec(mapping);
  if (match === null) {
    console.error(`bad mapping ${mapping}: expected <socket>=<host>:<port>`);
    process.exit(2);
  }
  forward(match[1], match[2], Number(match[3]));
}
