/**
 * The `elect` command: everything lives in run() (main.ts); this file only
 * wires it to the real process. Logs go to fd 2 synchronously, so a line
 * logged just before a SIGKILL is not lost.
 *
 * bin/elect.js runs this file as built into one bundle (the repository's
 * scripts/bundle.mjs):
 * a cold start then reads a few files instead of a few hundred.
 */
import { stderrSink } from './log.js';
import { run } from './main.js';

// `elect observe | head -1`: once the reader is gone, stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 70));

// While run() waits, the only pending work may be timers that do not hold the
// event loop open (core's loss deadline, while the connection is down and no
// socket is open). Node would then exit with 13 (unsettled top-level await)
// instead of our documented code: elect lives until it has decided.
const alive = setInterval(() => {}, 2 ** 31 - 1);
const code = await run(process.argv.slice(2), { stderr: stderrSink() });
clearInterval(alive);
// stdout may be a pipe, which Node writes asynchronously: drain it before exiting.
process.stdout.write('', () => process.exit(code));
