import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type CaptureBackend, captureBackend } from '../src/testing';
import { type ReceivedMessage, testBackend } from '../src/testing/vitest';

// The suite against core's own capture backend, which declares every capability: a harness that reads the
// captured messages back as the "provider request".
let capture: CaptureBackend;
testBackend({
  name: 'capture',
  create: (o) => {
    capture = captureBackend({ protocol: 'email', formats: ['html', 'markdown', 'blocks', 'text'], ...o });
    return capture;
  },
  address: 'ada@example.org',
  failNext: (kind) => capture.failNext(kind),
  received: () =>
    capture.messages.map(
      ({ to, options: o, content, attachments }): ReceivedMessage => ({
        raw: JSON.stringify({ to, options: o, content, attachments }),
        to: [to],
        cc: o.cc ?? [],
        bcc: o.bcc ?? [],
        replyTo: o.replyTo ?? [],
        subject: content.subject,
        text: content.text,
        html: content.html,
        headers: o.headers ?? {},
        metadata: o.metadata ?? {},
        tags: o.tags ?? [],
        trackOpens: o.trackOpens,
        trackClicks: o.trackClicks,
        attachments: attachments.map((a) => ({ ...a, content: Buffer.from(a.content, 'base64') })),
      }),
    ),
  secrets: [],
});

const run = promisify(execFile);
const vitestBin = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const fixtures = fileURLToPath(new URL('./fixtures/conformance/', import.meta.url));

interface JsonReport {
  testResults: { assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[];
}

// Regression: the unsupported-features checks passed for any backend (applyCapabilities raised before the backend
// ran), and the capabilities check only counted messages, so a backend dropping cc or leaking headers passed.
describe('testBackend has teeth', () => {
  it('fails exactly the checks each broken backend breaks, and none of a backend that keeps the rules', async () => {
    const out = mkdtempSync(join(tmpdir(), 'herald-suite-'));
    try {
      const report = join(out, 'report.json');
      // These suites are meant to fail, so they run in a vitest of their own; its exit code is 1 by design.
      await run(process.execPath, [vitestBin, 'run', '--config', join(fixtures, 'vitest.config.ts'), '--reporter=json', `--outputFile=${report}`], {
        cwd: fixtures,
        timeout: 60_000,
      }).catch((error: unknown) => error);
      const results = (JSON.parse(readFileSync(report, 'utf8')) as JsonReport).testResults.flatMap((file) => file.assertionResults);
      const failed = (backend: string) =>
        results
          .filter((r) => r.ancestorTitles.includes(`backend conformance: ${backend}`) && r.status === 'failed')
          .map((r) => r.title)
          .sort();
      expect(results.length).toBeGreaterThan(40);
      expect(failed('honest')).toEqual([]);
      expect(failed('drops-cc')).toEqual(['capabilities']);
      expect(failed('hand-rolled')).toEqual(['ignore unsupported features', 'unsupported features']);
      expect(failed('refuses-late')).toEqual(['unsupported features']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 90_000);
});
