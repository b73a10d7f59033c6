#!/usr/bin/env node
import { CLIENT_HELP, EXIT } from './cli/common.js';
import { CliError } from './errors.js';
import { drop } from './cli/drop.js';
import { status } from './cli/status.js';
import { top } from './cli/top.js';

const USAGE = `usage: logflow COMMAND [OPTIONS]   (npx logflow ...)

Talking to a running daemon:
  drop FILE...     copy log files into the spool safely and follow them until counted
  top              the most requested URLs, as a table
  status           files, rates, errors and checkpoint age

On log files, in this process (no daemon, no ports):
  analyze FILE...  a report: top URLs, the busiest window, parse errors (--json, --html FILE)
  check FILE       which log format parses the file, and why its failing lines fail

On the agent's state, with the daemon stopped:
  reset --yes      start over: remove the checkpoint, results and history, file records
                   and fingerprints, and say what was removed

\`logflow COMMAND --help\` for a command's options. Run it in the project folder. The
daemon itself: npm start (node dist/daemon/main.js --conf-file FILE --name AGENT; its
options and LOGFLOW_LOG_LEVEL / LOGFLOW_LOG_FORMAT: npm start -- --help). The keys of the
configuration file are described in docs/configuration.md.

Options of drop, top and status:
${CLIENT_HELP}
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  drop: (argv) => drop(argv, process.stdout, process.stderr),
  top: (argv) => top(argv, process.stdout),
  status: (argv) => status(argv, process.stdout),
  // Loaded when asked for: the daemon's commands start without the analyzer's modules.
  analyze: async (argv) => (await import('./cli/analyze.js')).analyze(argv, process.stdout, process.stderr),
  check: async (argv) => (await import('./cli/check.js')).check(argv, process.stdout),
  reset: async (argv) => (await import('./cli/reset.js')).reset(argv, process.stdout),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) throw new CliError('LF_CLI_USAGE', `unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error & { code?: string; exitCode?: number }) => {
    // node:util parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const usage = err instanceof CliError ? err.exitCode === EXIT.usage : err.code?.startsWith('ERR_PARSE_ARGS') === true;
    process.stderr.write(`logflow: ${err.message}${usage && !(err instanceof CliError) ? '\n(see --help)' : ''}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : usage ? EXIT.usage : EXIT.failed;
  },
);
