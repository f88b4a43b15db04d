import { describe, expect, it } from 'vitest';
import { createLog } from '../src/_log';
import type { CliIO } from '../src/_output';
import { progressBar } from '../src/_progress';
import pc from 'picocolors';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: Object.assign({ write: (s: string) => chunks.push(s) > 0, isTTY, columns: 100 }) as unknown as NodeJS.WritableStream & { isTTY: boolean } };
}

const io = (isTTY: boolean, env: NodeJS.ProcessEnv) => {
  const out = sink(isTTY);
  return { out, io: { stdout: out.stream, stderr: out.stream, stdin: process.stdin, cwd: '/', env } as CliIO };
};

describe('terminal output', () => {
  it('the progress bar draws share, count, rate and ETA on a terminal, and clears itself', async () => {
    const { chunks, stream } = sink(true);
    const bar = progressBar(stream, pc.createColors(false), 'sending');
    bar.update(500, 0.25);
    await new Promise((r) => setTimeout(r, 120));
    bar.update(1000, 0.5);
    bar.finish();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI sequences are what is checked
    expect(chunks[0]).toMatch(/^\rsending █+░+ +25% {2}500 recipients {2}[\d,]+\/s {2}ETA \d\d:\d\d\u001b\[K$/);
    expect(chunks[1]).toMatch(/ 50% {2}1,000 recipients/);
    expect(chunks.at(-1)).toBe('\r\u001b[K');
  });

  it('without a known size (standard input) it shows count and rate; nothing at all off a terminal', () => {
    const tty = sink(true);
    progressBar(tty.stream, pc.createColors(false), 'sending').update(42, null);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI sequences are what is checked
    expect(tty.chunks[0]).toMatch(/^\rsending 42 recipients {2}[\d,]+\/s\u001b\[K$/);
    const pipe = sink(false);
    const bar = progressBar(pipe.stream, pc.createColors(true), 'sending');
    bar.update(1, 0.5);
    bar.finish();
    expect(pipe.chunks).toEqual([]);
  });

  it('worker logs: readable lines with colours on a terminal, none with NO_COLOR, JSON lines otherwise', () => {
    const tty = io(true, {});
    createLog(tty.io, false)('warn', 'delivery retrying', { delivery: 'd_1', error: 'busy now', next: new Date('2030-01-01T00:00:00Z') });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI sequences are what is checked
    expect(tty.out.chunks[0]).toMatch(/^\u001b\[2m\d{4}-\d\d-\d\dT[\d:.]+Z\u001b\[22m \u001b\[33mWARN \u001b\[39m delivery retrying /);
    expect(tty.out.chunks[0]).toContain('error=\u001b[22m"busy now"');
    const plain = io(true, { NO_COLOR: '1' });
    createLog(plain.io, false)('info', 'worker started', { worker: 'w1', backends: 'smtp,sms' });
    expect(plain.out.chunks[0]).toMatch(/^\S+Z INFO {2}worker started worker=w1 backends=smtp,sms\n$/);
    const json = io(false, {});
    createLog(json.io, true)('error', 'delivery failed', { delivery: 'd_2' });
    expect(JSON.parse(json.out.chunks[0]!)).toMatchObject({ level: 'error', msg: 'delivery failed', delivery: 'd_2', time: expect.any(String) });
  });
});
