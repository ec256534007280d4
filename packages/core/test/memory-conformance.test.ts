// The conformance suite on the in-memory backend: real timers, short
// sessions, faults through the connection's suspend/heal/expire hooks.
import { describeConformance, type ConformanceBackend } from '@elect/core/conformance';
import { MemoryServer } from '@elect/core/testing';

const sessionTimeoutMs = 500;
const server = new MemoryServer();
let names = 0;

const backend: ConformanceBackend = {
  name: 'memory',
  sessionTimeoutMs,
  invalidNames: ['', 'line\nbreak', 'nul\0byte', 'x'.repeat(1025)],
  uniqueName: () => `conformance/${++names}`,
  async open(electionName, options = {}) {
    const connection = server.connect({ sessionTimeoutMs, ...(options.logger ? { logger: options.logger } : {}) });
    try {
      const election = connection.election(electionName);
      return {
        election,
        another: (name) => connection.election(name),
        expire: async () => connection.expire(),
        cut: async () => connection.suspend(),
        heal: async () => connection.heal(),
        close: async () => {
          await election.close();
          await connection.close();
        },
      };
    } catch (error) {
      await connection.close();
      throw error;
    }
  },
  residue: async (electionName) => server.keys(electionName),
  deleteEntry: async (key) => void server.deleteKey(key),
};

describeConformance(backend, { faults: ['expire', 'cut', 'delete'], teardown: () => server.close() });
