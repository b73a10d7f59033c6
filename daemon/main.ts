#!/usr/bin/env node
import { Agent } from './agent.js';
import { loadAgentConfig } from './agent-config.js';
import { CliError, exitCodeOf } from './errors.js';
import { createLogger } from './log.js';
import { agentStarted, flumeSettingsIgnored, secondSignal, shutdownFailed, shuttingDown, startupFailed, stoppedCleanly } from './telemetry/index.js';

const USAGE = `usage: logflow [--conf-file FILE] [--name AGENT] [--reset-checkpoint]

  -f, --conf-file FILE   Flume-style properties file (default conf/agent.conf)
  -n, --name AGENT       agent to run from that file (default a1)
  --reset-checkpoint     discard the job's checkpoint (window, positions) and start empty;
                         files still in the spool are then read from their beginning. The
                         history and the file records are kept: those files are counted in
                         the history again, and logs counted before are refused as
                         duplicates. To start over: stop the daemon, npx logflow reset --yes
  -h, --help             this help

environment:
  LOGFLOW_LOG_LEVEL      trace, debug, info (default), warn, error, fatal or silent
  LOGFLOW_LOG_FORMAT     json: one JSON line per event even on a terminal (a terminal
                         otherwise gets readable coloured lines; pipes and files get JSON)

Every key of FILE (sources, channels, sinks, jobs, http) is described in
docs/configuration.md. Run it in the project folder: npm start -- --help
`;

interface CliOptions {
  confFile: string;
  name: string;
  resetCheckpoint: boolean;
}

function parseArgs(argv: string[]): CliOptions | 'help' {
  const opts: CliOptions = { confFile: 'conf/agent.conf', name: 'a1', resetCheckpoint: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new CliError('LF_CLI_USAGE', `${flag} needs a value\n\n${USAGE}`);
      return v;
    };
    if (flag === '-h' || flag === '--help') return 'help';
    else if (flag === '-f' || flag === '--conf-file' || flag === '--conf') opts.confFile = value();
    else if (flag === '-n' || flag === '--name') opts.name = value();
    else if (flag === '--reset-checkpoint' && inline === undefined) opts.resetCheckpoint = true;
    else throw new CliError('LF_CLI_USAGE', `unknown argument ${JSON.stringify(arg)}\n\n${USAGE}`);
  }
  return opts;
}

async function main(): Promise<void> {
  const log = createLogger('logflow');
  let agent: Agent;
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts === 'help') {
      process.stdout.write(USAGE);
      return;
    }
    const config = loadAgentConfig(opts.confFile, opts.name);
    if (config.notImplemented.length > 0) {
      flumeSettingsIgnored.emit(log, { keys: config.notImplemented });
    }
    agent = new Agent(config, log);
    await agent.start({ resetCheckpoint: opts.resetCheckpoint });
  } catch (err) {
    const e = err as Error & { code?: string };
    startupFailed.emit(log, { err: { message: e.message, code: e.code } });
    process.stderr.write(`logflow: ${e.message}\n`);
    process.exit(exitCodeOf(e));
  }
  agentStarted.emit(log, { agent: agent.config.agent, conf: agent.config.file });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      secondSignal.emit(log, { signal });
      process.exit(1);
    }
    stopping = true;
    shuttingDown.emit(log, { signal });
    agent.stop().then(
      () => {
        stoppedCleanly.emit(log, {});
        process.exit(0);
      },
      (err) => {
        shutdownFailed.emit(log, { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
