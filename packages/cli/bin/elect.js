#!/usr/bin/env node
// The `elect` command: everything lives in run() (src/main.ts); this file only
// wires it to the real process. Logs go to fd 2 synchronously, so a line
// logged just before a SIGKILL is not lost.
import { run, stderrSink } from '../dist/index.js';

// `elect observe | head -1`: once the reader is gone, stop quietly.
process.stdout.on('error', (error) => process.exit(error.code === 'EPIPE' ? 0 : 70));

const code = await run(process.argv.slice(2), { stderr: stderrSink() });
// stdout may be a pipe, which Node writes asynchronously: drain it before exiting.
process.stdout.write('', () => process.exit(code));
