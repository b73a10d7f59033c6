import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, tempDir, waitFor, writeConfig } from '../lib/daemon-process.js';
import { dropLog } from '../lib/expected-counts.js';
import { alive, exactAgainst, holdConnections, type ChaosContext } from './harness.js';

const SECRET = 'root:$6$chaos-secret-hash:19000:0:99999:7:::';

/** Symlinks in the spool: one to a file outside it, one dangling (issue 22 items 2, 8; branch outsiders). */
async function symlinks(ctx: ChaosContext): Promise<void> {
  await ctx.row('symlinks in the spool', 'a link to a mode-600 file outside the spool, a dangling link, and a real log', 'the outside file neither counted nor served by /api/files/:name/check', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const spool = path.join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    const secret = path.join(dir, 'secret');
    writeFileSync(secret, `${SECRET}\n`.repeat(3));
    chmodSync(secret, 0o600);
    const d = await startDaemon(dir);
    symlinkSync(secret, path.join(spool, 'shadow.log'));
    symlinkSync(path.join(dir, 'nowhere'), path.join(spool, 'dangling.log'));
    const want = await dropLog(dir, 'real.log', { lines: 2_000, urls: 300, seed: 41, malformed: 0.01 });
    const result = await exactAgainst(d, want, 20_000);
    const check = await fetch(`${d.url}/api/files/shadow.log/check`).then((r) => r.text());
    const served = check.includes('chaos-secret-hash');
    const logged = d.logs.some((l) => l.includes('chaos-secret-hash'));
    const dangling = d.logs.some((l) => l.includes('dangling.log'));
    await d.stop('SIGTERM');
    return {
      got: `${result.got}; secret served by the check API: ${served ? 'YES' : 'no'}; in the log: ${logged ? 'YES' : 'no'}; dangling link warned: ${dangling ? 'yes' : 'NO'}`,
      pass: result.pass && !served && !logged && dangling,
    };
  });
}

/**
 * Idle connections to the HTTP port past a1.http.maxConnections (issue 22 item 3; branch
 * outsiders). The daemon runs with the open-file limit its own start-up check asks for (the
 * caps, 1000 + 1000, plus 256: no warning), so the cap, not the descriptors, meets the flood:
 * a real client must still get through (the cap closes the connection idle longest for it).
 * Below that limit the daemon warns at start, and a flood may take every descriptor: nothing
 * can answer then (that path, survived without a crash, is test/connection-floods.test.ts).
 */
async function httpFlood(ctx: ChaosContext): Promise<void> {
  const cap = 1000;
  const openFiles = 2 * cap + 256;
  await ctx.row('HTTP connection flood', `open files ${openFiles} (what the start-up check asks); ${cap + 200} idle connections to the HTTP port (a1.http.maxConnections ${cap}); a log dropped`, 'no warning; alive; /health answers during the flood; the log counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const d = await startDaemon(dir, undefined, undefined, { openFiles });
    const warned = d.logs.some((l) => l.includes('open-file limit'));
    const port = Number(new URL(d.url).port);
    const flood = await holdConnections(port, cap + 200);
    ctx.cleanup(() => flood.sockets.forEach((s) => s.destroy()));
    const want = await dropLog(dir, 'a.log', { lines: 2_000, urls: 300, seed: 43, malformed: 0.01 });
    // Asked with the flood still there: each request closes an idle outsider's connection.
    const counted = await waitFor('the log counted', async () => (await fetch(`${d.url}/api/stats`).then((r) => r.json() as Promise<{ eventsCounted: number }>)).eventsCounted === want.total ? true : undefined, 20_000).catch(() => false);
    const health = await fetch(`${d.url}/health`).then((r) => r.status, (e: Error) => e.message);
    const closed = flood.sockets.filter((s) => s.destroyed || s.readyState !== 'open').length;
    const wasAlive = alive(d);
    const result = wasAlive ? await exactAgainst(d, want, 20_000) : { got: '', pass: false };
    for (const s of flood.sockets) s.destroy();
    await d.stop('SIGKILL');
    return {
      got: `${flood.opened} connected, ${closed} closed by the cap; ${warned ? 'WARNED about the limit; ' : ''}${wasAlive ? 'alive' : 'DIED'}; /health during the flood: ${health}; counted during it: ${counted ? 'yes' : 'no'}; ${result.got}`,
      pass: !warned && wasAlive && health === 200 && counted && result.pass,
    };
  });
}

/** Outsiders holding the Avro receiver's connection slots (issue 22 item 10; branch outsiders). */
async function avroFlood(ctx: ChaosContext): Promise<void> {
  await ctx.row('Avro connection flood', 'an outsider holds 1,000 idle connections (the receiver\'s maxConnections) to the job\'s Avro port; a log dropped', 'the daemon\'s own sink still delivers: counted once within 20 s', async () => {
    const dir = tempDir('logflow-chaos-');
    const { avroPort } = await writeConfig(dir);
    const d = await startDaemon(dir);
    const flood = await holdConnections(avroPort, 1000);
    ctx.cleanup(() => flood.sockets.forEach((s) => s.destroy()));
    const started = Date.now();
    const want = await dropLog(dir, 'a.log', { lines: 2_000, urls: 300, seed: 47, malformed: 0.01 });
    const result = await exactAgainst(d, want, 20_000);
    const ms = Date.now() - started;
    for (const s of flood.sockets) s.destroy();
    await d.stop('SIGKILL');
    return { got: `${flood.opened} connections held; ${result.pass ? `counted in ${ms} ms` : result.got}`, pass: result.pass };
  });
}

export async function outsiderScenarios(ctx: ChaosContext): Promise<void> {
  await symlinks(ctx);
  await httpFlood(ctx);
  await avroFlood(ctx);
}
