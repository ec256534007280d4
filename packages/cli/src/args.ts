/**
 * The command line grammar (yargs) and the help text. yargs only splits and
 * checks the syntax here — unknown flags, a flag missing its value — and
 * `options.ts` turns the result, together with `ELECT_*` variables, into
 * validated options. Parsing never prints or exits: the outcome comes back as
 * a value so that `run()` stays testable.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { defaults, envName, logLevels, type CommandName, type ParsedFlags } from './options.js';

export type ParseOutcome =
  | { kind: 'command'; command: CommandName; flags: ParsedFlags }
  /** `--help` or `--version`: print `text` on stdout and exit 0. */
  | { kind: 'output'; text: string }
  | { kind: 'usage'; message: string };

const version: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const exitCodes = `Exit codes:
  <n>   the command's own status (128+n if signal n killed it)
  1     elect leader: the election has no leader; elect handover: another candidate leads instead of ID
  64    usage error (bad flag, bad ELECT_* value, no command, --metrics address unusable; a --priority
        that does not match the election's layout; elect handover: not a priority election, nobody
        leads, or no candidate ID waits)
  69    backend unreachable within --connect-timeout
  70    internal error
  77    the backend refused an operation to the credentials (--user): a ZooKeeper ACL or etcd role
  75    leadership lost while the command ran (without --rejoin)
  124   --wait expired before becoming leader (elect handover: before ID led)
  126   command not executable
  127   command not found`;

// Written out rather than with .example(): yargs squeezes long command lines
// into a narrow column.
const examples = `Examples:
  elect -b zk -e /services/billing/leader -- ./billing-cron --once
      run billing-cron on one host at a time (Curator-compatible latch path)
  elect -b etcd -c http://etcd1:2379,http://etcd2:2379 -e billing --ttl 6s --rejoin -- node worker.js
      keep one worker running somewhere; stand by and take over when the leader goes
  elect leader -b etcd -e billing --json
      who leads billing, as JSON
  elect -b zk -e jobs --priority 10 --preempt --rejoin -- ./worker
      lead jobs whenever no candidate of higher priority is around
  elect handover -b zk -e jobs --to web-2
      move leadership of a priority election to web-2 (say, before upgrading the leader)
  ELECT_BACKEND=zk ELECT_CONNECT=zk1:2181,zk2:2181 elect observe -e jobs
      flags from the environment; one line per leader change`;

const env = (flag: string, extra = ''): string => `[env ${envName(flag)}${extra}]`;

function common(y: Argv): Argv {
  return y
    .option('backend', { alias: 'b', type: 'string', choices: ['zk', 'etcd'], describe: `ZooKeeper or etcd (required) ${env('backend')}` })
    .option('election', {
      alias: 'e',
      type: 'string',
      describe: `election name (required): zk latch path (/a/b) or bare name under /elect; etcd key prefix ${env('election')}`,
    })
    .option('connect', {
      alias: 'c',
      type: 'string',
      describe: `zk connect string / etcd endpoints, comma-separated ${env('connect', `, default ${defaults.connect.zk} | ${defaults.connect.etcd}`)}`,
    })
    .option('ttl', { type: 'string', describe: `zk session timeout / etcd lease TTL ${env('ttl', ', default 10s')}` })
    .option('connect-timeout', { type: 'string', describe: `give up reaching the backend after this ${env('connect-timeout', ', default 5s')}` })
    .option('user', { type: 'string', describe: `credentials USER:PASSWORD (zk digest auth, etcd user) ${env('user')}` })
    .option('acl', {
      type: 'string',
      describe: `zk: ACL of the election's nodes, SCHEME:ID:PERMS[,…], e.g. auth::cdrwa,world:anyone:r with --user ${env('acl', ', default world:anyone:cdrwa')}`,
    })
    .option('cacert', { type: 'string', describe: `etcd: CA certificate file (PEM); switches to TLS ${env('cacert')}` })
    .option('cert', { type: 'string', describe: `etcd: client certificate file (PEM) ${env('cert')}` })
    .option('key', { type: 'string', describe: `etcd: client key file (PEM) ${env('key')}` })
    .option('log-level', { type: 'string', choices: logLevels, describe: `log level on stderr ${env('log-level', ', default info; warn for leader/observe/candidates')}` })
    .group(['backend', 'election', 'connect', 'ttl', 'connect-timeout', 'log-level'], 'Election:')
    .group(['user', 'acl', 'cacert', 'cert', 'key'], 'Security:');
}

function inspect(y: Argv): Argv {
  return common(y).option('json', { type: 'boolean', describe: `print JSON ${env('json')}` });
}

/**
 * yargs renders the whole help text whenever a named command (`run`,
 * `leader`, …) is parsed, and keeps it in case the command's handler fails
 * later and help must be shown. Our commands have no yargs handler, so that
 * text is never read; rendering it (word wrap, string widths) is 40-50 ms,
 * a tenth of a cold start. `--help` renders its own text, as before.
 * The hook is yargs' internal API: should it ever go, parsing stays correct
 * and only the time comes back.
 */
function skipHelpCache(y: Argv): Argv {
  const internal = y as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  return y;
}

function build(): Argv {
  return skipHelpCache(grammar());
}

function grammar(): Argv {
  return yargs()
    .scriptName('elect')
    .parserConfiguration({
      // Everything after `--` is the command, untouched: no number parsing, no strictness.
      'populate--': true,
      'parse-positional-numbers': false,
      // A repeated flag means "the last one", not an array.
      'duplicate-arguments-array': false,
    })
    .strict()
    // English whatever the locale: the hints in explain() read yargs'
    // messages, and the bundled elect has no locale files to read.
    .detectLocale(false)
    .exitProcess(false)
    .wrap(100)
    .usage('$0 [run] --backend zk|etcd --election NAME [options] -- CMD [ARGS...]\n\nRun CMD only while this process is the leader of the election.')
    .command(['run', '$0'], 'campaign, then run CMD while leader (the default command)', (y) =>
      common(y)
        .option('id', { type: 'string', describe: `candidate id ${env('id', ', default <hostname>-<pid>')}` })
        .option('value', { type: 'string', describe: `value the leader proclaims ${env('value', ', default the id')}` })
        .option('priority', { type: 'string', describe: `campaign in a priority election: the highest priority leads next ${env('priority')}` })
        .option('preempt', { type: 'boolean', describe: `with --priority: a leader of lower priority steps down for us ${env('preempt')}` })
        .option('grace', { type: 'string', describe: `SIGTERM→SIGKILL delay when leadership is lost ${env('grace', ', default ttl/4, ≤3s')}` })
        .option('rejoin', { type: 'boolean', describe: `campaign again after losing leadership ${env('rejoin')}` })
        .option('wait', { type: 'string', describe: `give up campaigning after this long ${env('wait', ', default: forever')}` })
        .option('metrics', { type: 'string', describe: `serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT ${env('metrics')}` })
        .group(['id', 'value', 'priority', 'preempt', 'grace', 'rejoin', 'wait', 'metrics'], 'Run:'),
    )
    .command('leader', 'print the current leader: id, token, value (exit 1 when none)', inspect)
    .command('observe', 'print one line per leader change until interrupted', inspect)
    .command('candidates', 'list the queue in election order, the leader first (with priorities)', inspect)
    .command('handover', 'priority elections: ask the leader to hand over to --to ID, wait until ID leads', (y) =>
      inspect(y)
        .option('to', { type: 'string', describe: `the id of the waiting candidate to lead next (required) ${env('to')}` })
        .option('wait', { type: 'string', describe: `give up waiting for ID to lead after this ${env('wait', ', default 1m')}` })
        .group(['to', 'wait'], 'Handover:'),
    )
    .epilogue(
      `Durations: 500ms, 10s, 2m, 1h, 1m30s (a bare number needs a unit).\n` +
        `Every flag can also be set as ELECT_<FLAG> (ELECT_CONNECT_TIMEOUT=3s); flags win.\n` +
        `CMD gets ELECT_BACKEND, ELECT_ELECTION, ELECT_ID, ELECT_TOKEN (fencing token) and ELECT_LEADER=1.\n\n` +
        `${examples}\n\n${exitCodes}`,
    )
    .help()
    .alias('help', 'h')
    .version(version)
    .fail((message, error) => {
      // Rethrown into the parse callback below as its `err`.
      throw error ?? new Error(message);
    });
}

const commandNames: readonly CommandName[] = ['run', 'leader', 'observe', 'candidates', 'handover'];

/** The flags whose value is a duration (see duration.ts). */
const durationFlags = new Set(['--ttl', '--connect-timeout', '--connectTimeout', '--grace', '--wait']);

/**
 * yargs reads a value that starts with `-` as more flags (`--ttl -5s` as
 * `-5 -s`). No flag is a digit, so such a value after a duration flag is
 * handed over as that flag's value, for the duration check to name.
 */
function keepNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    if (durationFlags.has(arg) && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else out.push(arg);
  }
  return out;
}

export async function parseArgs(argv: readonly string[]): Promise<ParseOutcome> {
  return new Promise((resolve) => {
    const usage = (error: Error): void => resolve({ kind: 'usage', message: explain(error.message, argv) });
    try {
      build().parse(keepNegativeValues(argv), {}, (error: Error | undefined | null, flags: ParsedFlags, output: string) => {
        if (error) usage(error);
        else if (output !== '') resolve({ kind: 'output', text: output.endsWith('\n') ? output : `${output}\n` });
        else {
          const first = (flags._ as unknown[] | undefined)?.[0];
          resolve({ kind: 'command', command: commandNames.find((name) => name === first) ?? 'run', flags });
        }
      });
    } catch (error) {
      // Validation failures are thrown from `.fail()` through parse() itself.
      usage(error as Error);
    }
  });
}

/** yargs' messages, with the one hint people most often need. */
function explain(message: string, argv: readonly string[]): string {
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  const unknown = /^Unknown arguments?: (.*)$/.exec(oneLine)?.[1]?.split(', ') ?? [];
  // A bare word yargs did not expect is usually the command, missing its `--`.
  if (!argv.includes('--') && unknown.some((name) => argv.includes(name))) {
    return `${oneLine} (the command to run goes after \`--\`: elect run ... -- CMD ARGS)`;
  }
  return oneLine;
}
