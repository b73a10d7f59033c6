#!/usr/bin/env node
import { DEFAULT_OPTIONS, writeLog, type GeneratorOptions } from './access-log-generator.js';

const USAGE = `usage: npm run gen -- --out FILE [--lines N] [--urls N] [--seed N] [--start ISO] [--span SECONDS]
                    [--malformed FRACTION] [--format combined|common] [--clients N]

Writes a deterministic Apache combined access log (same options, same bytes).`;

function main(): void {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const opts: Partial<GeneratorOptions> = {};
  let out: string | undefined;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) fail(`${flag} needs a value`);
    const num = () => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) fail(`${flag} must be a non-negative number`);
      return n;
    };
    switch (flag) {
      case '--out': out = value; break;
      case '--lines': opts.lines = num(); break;
      case '--urls': opts.urls = Math.max(1, num()); break;
      case '--seed': opts.seed = num(); break;
      case '--span': opts.spanSeconds = num(); break;
      case '--malformed': opts.malformed = num(); break;
      case '--clients': opts.clients = Math.max(1, num()); break;
      case '--start': {
        const ms = Date.parse(value!);
        if (Number.isNaN(ms)) fail('--start must be an ISO 8601 time');
        opts.startMs = ms;
        break;
      }
      case '--format':
        if (value !== 'combined' && value !== 'common') fail('--format must be combined or common');
        opts.format = value;
        break;
      default: fail(`unknown option ${flag}`);
    }
  }
  if (!out) fail('--out is required');
  const started = Date.now();
  writeLog(out!, opts).then(
    (bytes) => console.error(`wrote ${opts.lines ?? DEFAULT_OPTIONS.lines} lines (${bytes} bytes) to ${out} in ${Date.now() - started} ms`),
    (err) => fail(String(err)),
  );
}

function fail(message: string): never {
  console.error(`gen-access-log: ${message}\n\n${USAGE}`);
  process.exit(64);
}

main();
