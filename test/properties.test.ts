import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, NettyFrameDecoder } from '../daemon/avro/index.js';
import { LogflowError } from '../daemon/errors.js';
import { encodePosition, parsePosition } from '../daemon/channel/index.js';
import { decodeCounts, encodeCounts } from '../daemon/counts/index.js';
import { findUrl } from '../daemon/logformat/index.js';
import { LineFields } from '../daemon/logformat/line-fields.js';

const token = fc.stringMatching(/^[^\s"\[\]]{1,20}$/);
const url = fc.stringMatching(/^\/[^\s"]{0,60}$/);

describe('properties (fast-check)', () => {
  test('the line parser finds the URL of any well-formed combined or common line', () => {
    fc.assert(
      fc.property(token, token, token, url, fc.constantFrom('GET', 'POST', 'HEAD'), fc.integer({ min: 100, max: 599 }), fc.option(fc.nat()), fc.boolean(), fc.string(),
        (host, ident, user, u, method, status, size, combined, agent) => {
          const common = `${host} ${ident} ${user} [10/Oct/2000:13:55:36 -0700] "${method} ${u} HTTP/1.1" ${status} ${size ?? '-'}`;
          const line = combined ? `${common} "-" "${agent.replace(/"/g, '\\\\"')}"` : common;
          const buf = Buffer.from(line);
          const out = new LineFields();
          assert.ok(findUrl(buf, 0, buf.length, out), line);
          assert.equal(buf.toString('utf8', out.start, out.end), u);
        }),
      { numRuns: 2000 },
    );
  });

  test('the line parser never throws and stays inside the line on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, pad) => {
        const buf = Buffer.concat([Buffer.alloc(pad, 0x22), Buffer.from(bytes), Buffer.from('] "GET /x HTTP/1.1" 200 1')]);
        const out = new LineFields();
        out.start = -1;
        out.end = -1;
        const end = pad + bytes.length;
        if (findUrl(buf, pad, end, out)) assert.ok(out.start >= pad && out.end <= end && out.start < out.end);
      }),
      { numRuns: 3000 },
    );
  });

  test('the Netty frame decoder yields the same frames however the bytes are chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (payloads, cuts) => {
        const wire = Buffer.concat(payloads.map((p, i) => encodeFrame(i, Buffer.from(p))));
        const decoder = new NettyFrameDecoder();
        const got: { serial: number; payload: Buffer }[] = [];
        let pos = 0;
        for (let c = 0; pos < wire.length; c++) {
          const size = cuts[c % cuts.length]!;
          decoder.push(wire.subarray(pos, pos + size), (f) => got.push({ serial: f.serial, payload: Buffer.from(f.payload) }));
          pos += size;
        }
        assert.deepEqual(got.map((f) => f.serial), payloads.map((_, i) => i));
        got.forEach((f, i) => assert.deepEqual(f.payload, Buffer.from(payloads[i]!)));
        assert.equal(decoder.hasPartialFrame, false);
      }),
      { numRuns: 1000 },
    );
  });

  test('a counts blob decodes to what was encoded', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: 'grapheme' }), fc.nat({ max: 2 ** 32 - 1 }))), (entries) => {
        assert.deepEqual([...decodeCounts(encodeCounts(entries))], entries);
      }),
      { numRuns: 500 },
    );
  });

  test('an lf.pos value parses back to its key (colons and all), offset and events', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.integer({ min: 1, max: 100_000 }), (key, offset, events) => {
        assert.deepEqual(parsePosition(encodePosition(key, offset, events)), { key, offset, events });
      }),
      { numRuns: 500 },
    );
  });

  test('the Netty frame decoder refuses garbage with its own error, never another, and buffers within the limit', () => {
    const limit = 1024;
    // Words near the limits make plausible headers (small counts, lengths around 1024, negatives);
    // any other int32 makes garbage.
    const word = fc.oneof(fc.integer({ min: -3, max: limit + 50 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), fc.uint8Array({ maxLength: 1200 }), (words, tail) => {
        const head = Buffer.alloc(words.length * 4);
        words.forEach((w, i) => head.writeInt32BE(w, i * 4));
        const bytes = Buffer.concat([head, tail]);
        const expected = referenceVerdict(bytes, limit);
        const decoder = new NettyFrameDecoder({ maxFrameBytes: limit });
        let frames = 0;
        let thrown: unknown;
        try {
          decoder.push(bytes, () => frames++);
        } catch (err) {
          thrown = err;
        }
        if (expected.refused) {
          assert.ok(thrown instanceof LogflowError && thrown.code === 'LF_AVRO_FRAME', `refused with LF_AVRO_FRAME, got ${String(thrown)}`);
        } else {
          assert.equal(thrown, undefined, 'a stream within the limits is accepted');
          assert.equal(frames, expected.frames);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/**
 * What the decoder must do with `bytes`, worked out the plain way: complete frames come out,
 * and a buffer count out of range, a negative length or a frame over `limit` is refused,
 * as soon as the bytes that show it are here.
 */
function referenceVerdict(bytes: Buffer, limit: number): { refused: boolean; frames: number } {
  let frames = 0;
  let pos = 0;
  for (;;) {
    if (bytes.length - pos < 8) return { refused: false, frames };
    const count = bytes.readInt32BE(pos + 4);
    if (count < 0 || count > 1_000_000) return { refused: true, frames };
    let at = pos + 8;
    let total = 0;
    for (let i = 0; i < count; i++) {
      if (bytes.length - at < 4) return { refused: false, frames };
      const len = bytes.readInt32BE(at);
      if (len < 0) return { refused: true, frames };
      total += len;
      if (total > limit) return { refused: true, frames };
      if (bytes.length - at - 4 < len) return { refused: false, frames };
      at += 4 + len;
    }
    frames++;
    pos = at;
  }
}
