import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Backend, ConfigError, createTemplateRegistry, defineNotification, type Notification, type TemplateRegistryOptions, TemplateError } from '../src';
import { captureBackend } from '../src/testing';

const byName = (...list: Backend[]) => new Map(list.map((b) => [b.name, b]));
const scope = (data: Record<string, unknown>, name = 'Ada') => ({
  data,
  recipient: { id: 'u1', name },
  contact: { protocol: 'email', address: 'ada@shop.dev' },
  memo: new Map(),
});
const registry = (notifications: Notification[], backends: Backend[], more: Partial<TemplateRegistryOptions> = {}) =>
  createTemplateRegistry({ notifications, backends: byName(...backends), ...more });

const smtp = captureBackend({ protocol: 'email', name: 'smtp', formats: ['html', 'markdown', 'blocks', 'text'] });
const postmark = captureBackend({ protocol: 'email', name: 'postmark', formats: ['params', 'html', 'markdown'] });
/** A Slack-like backend: declares mrkdwn escaping as @herald/backend-slack does. */
const slack: Backend = {
  ...captureBackend({ protocol: 'slack-webhook', name: 'slack', formats: ['text', 'params'] }),
  escapeText: (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
};

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});
function folder(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'herald-registry-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('createTemplateRegistry: which template each backend renders', () => {
  const n = defineNotification({
    id: 'order-shipped',
    schema: z.object({ orderId: z.string() }),
    templates: {
      email: { format: 'markdown', subject: 'Order {{orderId}}', body: 'Order **{{orderId}}**' },
      postmark: { format: 'params', subject: 'order-alias', body: 'order: {{orderId}}' },
      sms: { format: 'text', body: 'Order {{orderId}}' },
    },
  });

  it('a backend\'s own template wins over its protocol\'s; protocols without a backend compile standalone', () => {
    const r = registry([n], [smtp, postmark]);
    expect(r.for('order-shipped', 'smtp')?.location.channel).toBe('email');
    expect(r.for('order-shipped', 'postmark')?.location.channel).toBe('postmark');
    expect([...r.entries('order-shipped')].map(([b, t]) => [b, t.format])).toEqual([
      ['smtp', 'markdown'],
      ['postmark', 'params'],
    ]);
    expect(r.standalone('order-shipped').map((t) => t.location.channel)).toEqual(['sms']);
    expect(r.for('order-shipped', 'nope')).toBeNull();
    expect(r.for('unknown', 'smtp')).toBeNull();
    expect([...r.entries('unknown')]).toEqual([]);
    expect(r.standalone('unknown')).toEqual([]);
  });

  it('keeps createHerald\'s errors: unknown channel, format mismatch, inline/file clash', () => {
    const typo = defineNotification({ id: 't', schema: z.object({}), templates: { emial: { format: 'text', body: 'x' } } });
    expect(() => registry([typo], [smtp])).toThrow(expect.objectContaining({ field: 'notifications.t.templates.emial', message: expect.stringContaining('neither a protocol') }));
    const wrongFormat = defineNotification({ id: 'w', schema: z.object({}), templates: { slack: { format: 'html', body: 'x' } } });
    expect(() => registry([wrongFormat], [slack])).toThrow(expect.objectContaining({ field: 'notifications.w.templates.slack.format', message: expect.stringContaining('renders text, params') }));
    const dirPath = folder({ 'order-shipped/email.markdown.hbs': 'x' });
    expect(() => registry([n], [smtp], { templatesDir: dirPath })).toThrow(/has both an inline template and .*email\.markdown\.hbs for "email"; keep one/);
  });

  it('a misspelt key of a template spec is a ConfigError with the closest key', () => {
    const bad = defineNotification({ id: 'b', schema: z.object({}), templates: { email: { format: 'text', subjet: 'x', body: 'y' } as never } });
    expect(() => registry([bad], [smtp])).toThrow(expect.objectContaining({ field: 'notifications.b.templates.email.subjet', message: expect.stringContaining('did you mean `subject`?') }));
  });

  it('a syntax error in a file names the file and its own line (after the front matter)', () => {
    const fileOnly = defineNotification({ id: 'f', schema: z.object({ x: z.string() }) });
    const dirPath = folder({ 'f/email.markdown.hbs': '---\nsubject: S\n---\nline one\nline two {{#if x}}\n' });
    try {
      registry([fileOnly], [smtp], { templatesDir: dirPath });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      expect((error as TemplateError).file).toContain('email.markdown.hbs');
      expect((error as TemplateError).line).toBeGreaterThanOrEqual(5);
    }
    const typo = folder({ 'f/email.markdown.hbs': '---\nsubject: S\n---\n\nHi {{xx}}\n' });
    expect(() => registry([fileOnly], [smtp], { templatesDir: typo })).toThrow(expect.objectContaining({ line: 5 }));
  });
});

describe('django-vox template rules: enabled and from', () => {
  it('enabled: false is as if absent — the backend falls back to the protocol\'s template, or has none', () => {
    const n = defineNotification({
      id: 'n',
      schema: z.object({}),
      templates: {
        email: { format: 'html', subject: 'generic', body: 'x' },
        postmark: { format: 'params', subject: 'own', body: 'a: b', enabled: false },
        'slack-webhook': { format: 'text', body: 'x', enabled: false },
      },
    });
    const r = registry([n], [smtp, postmark, slack]);
    expect(r.for('n', 'postmark')?.location.channel).toBe('email');
    expect(r.for('n', 'slack')).toBeNull();
    expect([...r.entries('n')].map(([b]) => b)).toEqual(['smtp', 'postmark']);
  });

  it('a disabled template is not compiled, and a file can disable itself in its front matter', () => {
    const n = defineNotification({ id: 'n', schema: z.object({}), templates: { sms: { format: 'text', body: '{{#if}}', enabled: false } } });
    expect(registry([n], [smtp]).standalone('n')).toEqual([]);
    const fileOnly = defineNotification({ id: 'f', schema: z.object({}) });
    const dirPath = folder({ 'f/email.html.hbs': '---\nenabled: false\n---\n<p>x</p>' });
    expect(registry([fileOnly], [smtp], { templatesDir: dirPath }).for('f', 'smtp')).toBeNull();
  });

  it('from is a template rendered into RenderedContent.from, data escaped for a quoted display name', () => {
    const n = defineNotification({
      id: 'n',
      schema: z.object({ shop: z.string() }),
      templates: { email: { format: 'markdown', from: '"{{shop}} via Herald" <shop@shop.dev>', subject: 'S', body: 'x' } },
    });
    const t = registry([n], [smtp]).for('n', 'smtp')!;
    expect(t.render(scope({ shop: "O'Brien & Sons" })).from).toBe('"O\'Brien & Sons via Herald" <shop@shop.dev>');
    expect(t.render(scope({ shop: 'Eve" <eve@evil.example>\r\nBcc: x@y.test' })).from).toBe('"Eve\\" <eve@evil.example> Bcc: x@y.test via Herald" <shop@shop.dev>');
    const fileOnly = defineNotification({ id: 'f', schema: z.object({ shop: z.string() }) });
    const dirPath = folder({ 'f/email.html.hbs': '---\nfrom: {{shop}} <shop@shop.dev>\nsubject: Hi\n---\n<p>x</p>' });
    expect(registry([fileOnly], [smtp], { templatesDir: dirPath }).for('f', 'smtp')!.render(scope({ shop: 'Tea' })).from).toBe('Tea <shop@shop.dev>');
  });
});

describe('params leaves keep JSON types', () => {
  const n = defineNotification({
    id: 'order',
    schema: z.object({ total: z.number(), paid: z.boolean(), items: z.array(z.string()), customer: z.object({ name: z.string(), age: z.number() }), note: z.string().optional(), when: z.date() }),
    templates: {
      postmark: {
        format: 'params',
        body: {
          total: '{{total}}',
          paid: '{{ paid }}',
          spaced: ' {{total}}',
          items: '{{items}}',
          customer: '{{{customer}}}',
          label: 'Total: {{total}}',
          note: '{{note}}',
          first: '{{items.[0]}}',
          when: '{{when}}',
          nested: [{ n: '{{total}}' }],
          count: '{{count items}}',
        },
      },
      'slack-webhook': { format: 'params', body: 'text: {{items}}\ntotal: {{total}}\npaid: {{paid}}\nlabel: {{total}} €' },
    },
  });
  const data = { total: 42.5, paid: true, items: ['a', '<b>'], customer: { name: 'Ada', age: 36 }, when: new Date('2026-01-02T03:04:05Z') };

  it('a leaf that is exactly one expression keeps its value; mixed text stays a string (object form)', () => {
    const r = registry([n], [postmark, slack], { helpers: { count: (list: unknown) => (Array.isArray(list) ? list.length : 0) } });
    expect(r.for('order', 'postmark')!.render(scope(data)).params).toEqual({
      total: 42.5,
      paid: true,
      spaced: ' 42.5',
      items: ['a', '<b>'],
      customer: { name: 'Ada', age: 36 },
      label: 'Total: 42.5',
      note: null,
      first: 'a',
      when: '2026-01-02T03:04:05.000Z',
      nested: [{ n: 42.5 }],
      count: 2,
    });
  });

  it('the key: value lines form too, with Slack escaping of strings inside the value', () => {
    const r = registry([n], [postmark, slack], { helpers: { count: () => 0 } });
    expect(r.for('order', 'slack')!.render(scope(data)).params).toEqual({ text: ['a', '&lt;b&gt;'], total: 42.5, paid: true, label: '42.5 €' });
  });

  it('each message gets its own copy of a value rendered once per call', () => {
    const r = registry([n], [postmark, slack], { helpers: { count: () => 0 } });
    const t = r.for('order', 'postmark')!;
    const memo = new Map();
    const a = t.render({ ...scope(data), memo }).params!;
    const b = t.render({ ...scope(data, 'Bob'), memo }).params!;
    expect(a.items).toEqual(b.items);
    expect(a.items).not.toBe(b.items);
  });
});

describe('partials, helpers and layouts', () => {
  const welcome = defineNotification({
    id: 'welcome',
    schema: z.object({ shop: z.string(), total: z.number() }),
    templates: {
      email: { format: 'markdown', subject: 'Welcome to {{shop}}', body: '# Hi {{recipient.name}}\n\nThanks, {{> signature}}\n\nTotal: {{money total}}' },
      'slack-webhook': { format: 'text', body: '{{> signature}} {{shout shop}}' },
    },
  });
  const options: Partial<TemplateRegistryOptions> = {
    partials: { signature: 'The {{shop}} team' },
    helpers: { money: (n: unknown) => `€${Number(n).toFixed(2)}`, shout: (s: unknown) => `${String(s).toUpperCase()}!` },
    layouts: { email: '<html><body><header>{{shop}}</header>{{> body}}<footer>Sent to {{contact.address}}</footer></body></html>' },
  };

  it('a layout wraps the markdown body; partials and helper output are escaped like data', () => {
    const r = registry([welcome], [smtp, slack], options);
    const out = r.for('welcome', 'smtp')!.render(scope({ shop: 'Tea & <Co>', total: 12 }, "O'Brien"));
    expect(out.html).toBe(
      '<html><body><header>Tea &amp; &lt;Co&gt;</header><h1>Hi O&#x27;Brien</h1>\n<p>Thanks, The Tea &amp; &lt;Co&gt; team</p>\n<p>Total: €12.00</p>\n<footer>Sent to ada@shop.dev</footer></body></html>',
    );
    expect(out.text).toContain("Hi O'Brien");
    expect(out.text).toContain('The Tea & <Co> team');
    expect(out.text).toContain('Sent to ada@shop.dev');
    // Slack: the same partial and helper, escaped for mrkdwn.
    expect(r.for('welcome', 'slack')!.render(scope({ shop: '<!channel>', total: 1 })).text).toBe('The &lt;!channel&gt; team &lt;!CHANNEL&gt;!');
  });

  it('a backend\'s own layout wins; {{{body}}} works too; html bodies are wrapped, text is not', () => {
    const n = defineNotification({ id: 'h', schema: z.object({ x: z.string() }), templates: { email: { format: 'html', body: '<p>{{x}}</p>' } } });
    const r = registry([n], [smtp, postmark], { layouts: { email: '<div>{{> body}}</div>', postmark: '<section>{{{body}}}</section>' } });
    expect(r.for('h', 'smtp')!.render(scope({ x: '<b>' })).html).toBe('<div><p>&lt;b&gt;</p></div>');
    expect(r.for('h', 'postmark')!.render(scope({ x: '<b>' })).html).toBe('<section><p>&lt;b&gt;</p></section>');
    const text = defineNotification({ id: 't', schema: z.object({}), templates: { email: { format: 'text', body: 'plain' } } });
    expect(registry([text], [smtp], { layouts: { email: '<div>{{> body}}</div>' } }).for('t', 'smtp')!.render(scope({})).text).toBe('plain');
  });

  it('partials and layouts from the templates folder (_partials/*.hbs, _layouts/<channel>.hbs)', () => {
    const dirPath = folder({
      '_partials/signature.hbs': '— {{shop}}',
      '_layouts/email.hbs': '<main>{{> body}}</main>',
      'welcome/email.markdown.hbs': 'Hello\n\n{{> signature}}',
    });
    const n = defineNotification({ id: 'welcome', schema: z.object({ shop: z.string() }) });
    const out = registry([n], [smtp], { templatesDir: dirPath }).for('welcome', 'smtp')!.render(scope({ shop: 'Tea & Co' }));
    expect(out.html).toBe('<main><p>Hello</p>\n<p>— Tea &amp; Co</p>\n</main>');
    expect(() => registry([n], [smtp], { templatesDir: dirPath, partials: { signature: 'x' } })).toThrow(/partial "signature" is given both in templates.partials and as .*signature\.hbs; keep one/);
  });

  it('layouts and variables in them are checked at start-up', () => {
    const n = defineNotification({ id: 'h', schema: z.object({ x: z.string() }), templates: { email: { format: 'html', body: '<p>{{x}}</p>' } } });
    expect(() => registry([n], [smtp], { layouts: { email: '<div>{{body}}</div>' } })).toThrow(expect.objectContaining({ field: 'templates.layouts.email', message: expect.stringContaining('{{body}} would escape its HTML') }));
    expect(() => registry([n], [smtp], { layouts: { emial: '{{> body}}' } })).toThrow(expect.objectContaining({ field: 'templates.layouts.emial' }));
    expect(() => registry([n], [smtp], { layouts: { email: '{{> body}} {{xx}}' } })).toThrow(expect.objectContaining({ channel: 'layout email', message: expect.stringContaining('did you mean `x`?') }));
    expect(() => registry([n], [smtp], { partials: { broken: '{{#if}}' } })).toThrow(expect.objectContaining({ field: 'templates.partials.broken' }));
  });

  it('helpers may not replace built-ins and stay inside their registry', () => {
    const n = defineNotification({ id: 'h', schema: z.object({}), templates: { email: { format: 'text', body: '{{#if true}}{{hello}}{{/if}}' } } });
    expect(() => registry([n], [smtp], { helpers: { if: () => '' } })).toThrow(expect.objectContaining({ field: 'templates.helpers.if' }));
    expect(() => registry([n], [smtp], { helpers: { hello: 'x' as never } })).toThrow(ConfigError);
    const a = registry([n], [smtp], { helpers: { hello: () => 'A' } });
    const b = registry([n], [smtp], { helpers: { hello: () => 'B' } });
    expect(a.for('h', 'smtp')!.render(scope({})).text).toBe('A');
    expect(b.for('h', 'smtp')!.render(scope({})).text).toBe('B');
    expect(Handlebars.helpers.hello).toBeUndefined();
    expect(() => registry([n], [smtp])).toThrow(/unknown variable `hello`/);
  });

  it('a template that calls an app helper renders per recipient (a helper sees the whole context)', () => {
    const n = defineNotification({ id: 'h', schema: z.object({}), templates: { email: { format: 'text', body: '{{greet}}' } } });
    const r = registry([n], [smtp], {
      helpers: {
        greet(this: unknown) {
          return `Hi ${String((this as { recipient: { name: unknown } }).recipient.name)}`;
        },
      },
    });
    const t = r.for('h', 'smtp')!;
    const memo = new Map();
    expect([t.render({ ...scope({}, 'Ada'), memo }).text, t.render({ ...scope({}, 'Bob'), memo }).text]).toEqual(['Hi Ada', 'Hi Bob']);
  });

  it('a helper returning SafeString inserts trusted markup', () => {
    const n = defineNotification({ id: 'h', schema: z.object({}), templates: { email: { format: 'markdown', body: '{{badge}} {{plain}}' } } });
    const r = registry([n], [smtp], { helpers: { badge: () => new Handlebars.SafeString('<b>new</b>'), plain: () => '<b>new</b>' } });
    expect(r.for('h', 'smtp')!.render(scope({})).html).toBe('<p><b>new</b> &lt;b&gt;new&lt;/b&gt;</p>\n');
  });
});
