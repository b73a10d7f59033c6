#!/usr/bin/env node
/**
 * The chaos run: the faults of issue 22, each against the real daemon and checked against an
 * independent count of the logs (a regex per line, scripts/lib/expected-counts.ts). Prints one
 * table row per fault: what was done, what a correct daemon does, what this one did. Exits 1
 * if any row fails. Repeatable: the logs come from seeds, and every wait is on the daemon's
 * state, not the clock. Mounting tmpfs and read-only binds needs root (else those rows say so).
 *
 *   npm run chaos -- [--only TEXT] [--kills 10] [--lines 50000] [--seed 1] [--markdown FILE]
 *
 * Groups: crash (kill -9 at random, during a growing file, at each crash point), disk (full
 * and read-only spool / checkpoint / results, results.db deleted, a gzip bomb), damage (WAL,
 * manifest, LOCK), outsiders (symlinks, HTTP and Avro connection floods).
 */
import { writeFileSync } from 'node:fs';
import { canMount, type ChaosContext, type ChaosOptions, type Row } from './chaos/harness.js';
import { crashScenarios } from './chaos/crash-scenarios.js';
import { damageScenarios } from './chaos/damage-scenarios.js';
import { diskScenarios } from './chaos/disk-scenarios.js';
import { outsiderScenarios } from './chaos/outsider-scenarios.js';

const USAGE = 'usage: npm run chaos -- [--only TEXT] [--kills 10] [--lines 50000] [--seed 1] [--markdown FILE]';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function number(name: string, fallback: number): number {
  const v = option(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} needs a non-negative number\n${USAGE}`);
    process.exit(64);
  }
  return n;
}

const GROUPS = { crash: crashScenarios, disk: diskScenarios, damage: damageScenarios, outsiders: outsiderScenarios } as const;

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const options: ChaosOptions = { kills: number('kills', 10), lines: number('lines', 50_000), seed: number('seed', 1) };
  const only = option('only');
  // A group's name runs the group; other text picks rows by their name.
  const group = only && Object.hasOwn(GROUPS, only) ? [GROUPS[only as keyof typeof GROUPS]] : Object.values(GROUPS);
  const pick = group.length === 1 ? undefined : only;
  const rows: Row[] = [];
  const cleanups: (() => void)[] = [];
  const ctx: ChaosContext = {
    options,
    root: canMount(),
    async row(scenario, fault, expected, run) {
      if (pick && !scenario.includes(pick)) return;
      const started = Date.now();
      let result: { got: string; pass: boolean };
      try {
        result = await run();
      } catch (err) {
        result = { got: `the run itself failed: ${(err as Error).message.split('\n')[0]}`, pass: false };
      } finally {
        while (cleanups.length > 0) {
          try {
            cleanups.pop()!();
          } catch {
            // cleaned already
          }
        }
      }
      const row = { scenario, fault, expected, ...result, ms: Date.now() - started };
      rows.push(row);
      console.log(`${row.pass ? 'PASS' : 'FAIL'}  ${scenario} (${(row.ms / 1000).toFixed(1)} s): ${row.got}`);
    },
    cleanup: (step) => cleanups.push(step),
  };
  console.log(`chaos: seed ${options.seed}, ${options.kills} kills, ${options.lines} lines per file${ctx.root ? '' : ' (no mount: disk rows skipped)'}`);
  const started = Date.now();
  for (const run of group) {
    try {
      await run(ctx);
    } catch (err) {
      rows.push({ scenario: run.name, fault: 'setting the faults up', expected: '-', got: `failed: ${(err as Error).message.split('\n')[0]}`, pass: false, ms: 0 });
    }
  }
  const table = [
    '| fault | what was done | a correct daemon | this one | verdict | s |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${r.fault} | ${r.expected} | ${r.got.replaceAll('|', '\\|')} | ${r.pass ? 'PASS' : '**FAIL**'} | ${(r.ms / 1000).toFixed(1)} |`),
  ].join('\n');
  console.log(`\n${table}\n\n${rows.filter((r) => r.pass).length} of ${rows.length} rows pass, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const markdown = option('markdown');
  if (markdown) writeFileSync(markdown, table + '\n');
  process.exitCode = rows.every((r) => r.pass) ? 0 : 1;
}

void main();
