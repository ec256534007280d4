import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { backendLogger, createLogger } from '../../src/log.js';

/** A stream that keeps what was written, line by line (pino-pretty needs a real stream). */
function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { lines, sink };
}

describe('logs', () => {
  it('are JSON lines, one per record, when stderr is not a terminal', () => {
    const { lines, sink } = capture();
    const logger = createLogger('info', sink, false);
    logger.info({ event: 'elected', token: '7' }, 'elected leader');
    logger.debug({ event: 'hidden' }, 'below the level');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ name: 'elect', event: 'elected', token: '7', msg: 'elected leader' });
  });

  it('are one readable line per record on a terminal, with the fields that vary', () => {
    const { lines, sink } = capture();
    const logger = createLogger('info', sink, true);
    backendLogger(logger, 'zk', { backend: 'zk', election: '/jobs', id: 'a' }).info({ event: 'session-closed' }, 'session closed');
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).toContain('[zk] session closed');
    expect(line).toContain('session-closed');
    // The bindings every line shares are left out, and it is not JSON.
    expect(line).not.toContain('/jobs');
    expect(() => JSON.parse(line)).toThrow();
  });
});
