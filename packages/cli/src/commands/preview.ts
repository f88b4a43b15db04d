import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Notification, PreviewMessage } from '@herald/core';
import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { EXIT, type Output } from '../_output';
import { readData } from '../_parse';

interface PreviewOptions extends CommonOptions {
  data?: string;
  open?: boolean;
  channel?: string[];
  recipientName?: string;
  recipientId?: string;
}

interface Segments {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  units: number;
}

type SegmentCounter = (text: string) => Segments;

/** The SMS segment counter of @herald/backend-twilio (an optional peer: only loaded for SMS channels). */
async function segmentCounter(): Promise<SegmentCounter | null> {
  try {
    const twilio = (await import('@herald/backend-twilio')) as { smsSegments?: SegmentCounter };
    return twilio.smsSegments ?? null;
  } catch {
    return null;
  }
}

/** Open a file in the user's browser: `$BROWSER` when set, else the platform's opener. */
function openInBrowser(file: string, env: NodeJS.ProcessEnv): Promise<void> {
  const url = pathToFileURL(file).href;
  const [command, ...args] = env.BROWSER
    ? [env.BROWSER, url]
    : process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '""', url]
        : ['xdg-open', url];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: 'ignore', detached: true, env });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

interface Shown {
  channel: string;
  backend: string | null;
  protocol: string;
  format: string;
  subject?: string;
  from?: string;
  text?: string;
  html?: string;
  params?: unknown;
  sms?: Segments | null;
  htmlFile?: string;
}

function section(out: Output, title: string, body: string): void {
  out.line(out.color.dim(`── ${title}`));
  out.line(body);
}

export function registerPreview(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('preview')
    .argument('<notification>', 'notification id')
    .description("render every channel's message for this data; nothing is stored or sent")
    .option('-d, --data <json|@file>', 'the notification data: inline JSON, @file.json, or @- for standard input')
    .option('--channel <names>', 'only these channels (backend names or protocols), comma-separated', (v, prev: string[] = []) => [...prev, ...v.split(',')])
    .option('--open', 'open each HTML part in the browser ($BROWSER, or the system opener) instead of printing its source')
    .option('--recipient-name <name>', 'recipient.name in templates', 'Preview Recipient')
    .option('--recipient-id <id>', 'recipient.id in templates', 'preview');
  withCommonOptions(cmd);
  examples(cmd, [
    'herald preview order-shipped --data \'{"orderId":"A1"}\'',
    'herald preview order-shipped --data @sample.json --open',
    'herald preview order-shipped --data @sample.json --channel sms --json',
  ]);
  cmd.action(
    action<PreviewOptions, [string]>(runtime, async ({ opts, out, io, load }, id) => {
      const data = await readData(opts.data, io.cwd, io.stdin);
      const { herald } = await load();
      const recipient = { id: opts.recipientId ?? 'preview', name: opts.recipientName ?? 'Preview Recipient' };
      let messages: PreviewMessage[] = await herald.preview({ id } as Notification, data as never, { recipient });
      if (opts.channel) {
        const wanted = new Set(opts.channel.map((c) => c.trim()));
        messages = messages.filter((m) => wanted.has(m.channel) || (m.backend !== null && wanted.has(m.backend)) || wanted.has(m.protocol));
      }
      const counter = messages.some((m) => m.protocol === 'sms') ? await segmentCounter() : null;
      const dir = opts.open && messages.some((m) => m.content.html) ? mkdtempSync(join(tmpdir(), 'herald-preview-')) : null;
      const shown: Shown[] = [];
      for (const m of messages) {
        const c = m.content;
        const item: Shown = { channel: m.channel, backend: m.backend, protocol: m.protocol, format: c.format };
        if (c.subject !== undefined) item.subject = c.subject;
        if (c.from !== undefined) item.from = c.from;
        if (c.text !== undefined) item.text = c.text;
        if (c.html !== undefined) item.html = c.html;
        if (c.params !== undefined) item.params = c.params;
        if (m.protocol === 'sms') item.sms = counter && c.text !== undefined ? counter(c.text) : null;
        if (dir && c.html !== undefined) {
          item.htmlFile = join(dir, `${id}.${m.backend ?? m.channel}.html`);
          writeFileSync(item.htmlFile, c.html);
          try {
            await openInBrowser(item.htmlFile, io.env);
          } catch (error) {
            out.warn(`could not open a browser (${(error as Error).message}); the HTML is in ${item.htmlFile}`);
          }
        }
        shown.push(item);
      }
      out.result({ notification: id, messages: shown }, () => {
        if (!shown.length) out.line(`notification ${id} has no template for any configured backend or protocol`);
        const c = out.color;
        for (const m of shown) {
          out.line(c.bold(`━━ ${m.channel}`) + c.dim(` · ${m.backend ? `backend ${m.backend}` : 'no backend'} · ${m.protocol} · ${m.format}`));
          if (m.subject !== undefined) out.line(`${c.bold('Subject:')} ${m.subject}`);
          if (m.from !== undefined) out.line(`${c.bold('From:')} ${m.from}`);
          if (m.text !== undefined) {
            const sms = m.sms ? `, ${m.sms.segments} segment${m.sms.segments === 1 ? '' : 's'} (${m.sms.encoding}, ${m.sms.units} ${m.sms.encoding === 'GSM-7' ? 'septets' : 'UTF-16 units'})` : '';
            const note = m.protocol === 'sms' && !m.sms ? ' (install @herald/backend-twilio for the segment count)' : '';
            section(out, `text${sms}${note}`, m.text);
          }
          if (m.html !== undefined) section(out, m.htmlFile ? `html (opened ${m.htmlFile})` : 'html source', m.htmlFile ? '' : m.html);
          if (m.params !== undefined) section(out, 'params', JSON.stringify(m.params, null, 2));
          out.line();
        }
      });
      return EXIT.ok;
    }),
  );
}
