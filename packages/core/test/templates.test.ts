import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileTemplate, ConfigError, loadTemplatesDir, parseParamsLines, TemplateError } from '../src';

const scope = (data: Record<string, unknown>, name = 'Ada') => ({
  data,
  recipient: { id: 'u1', name },
  contact: { protocol: 'email', address: 'ada@shop.dev' },
  memo: new Map(),
});
const where = { notification: 'order-shipped', channel: 'email' };

describe('html format', () => {
  it('escapes data in HTML, generates the text part, keeps the subject unescaped', () => {
    const t = compileTemplate({ format: 'html', subject: 'Order {{id}} for {{recipient.name}}', body: '<p>Hello {{recipient.name}}, your <b>{{item}}</b> shipped.</p><p><a href="{{url}}">Track it</a></p>' }, where);
    const out = t.render(scope({ id: 'A&1', item: '<script>x</script>', url: 'https://shop.dev/t?a=1&b=2' }));
    expect(out.subject).toBe('Order A&1 for Ada');
    expect(out.html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(out.html).not.toContain('<script>');
    expect(out.text).toContain('your <script>x</script> shipped');
    expect(out.text).toContain('Track it [https://shop.dev/t?a=1&b=2]');
  });

  it('does not expose prototype properties to templates', () => {
    const t = compileTemplate({ format: 'html', body: '{{constructor.name}}|{{__proto__}}|{{item.constructor}}' }, where);
    expect(t.render(scope({ item: {} })).html).toBe('||');
  });
});

describe('markdown format', () => {
  it('renders HTML and text and neutralises Markdown and HTML in data', () => {
    const t = compileTemplate({ format: 'markdown', subject: 'Hi {{recipient.name}}', body: '# Shipped\n\nHi **{{recipient.name}}**, item: {{item}}\n\n- one\n- two' }, where);
    const out = t.render(scope({ item: '*bold* <i>x</i> [link](http://evil)' }, 'Ada_Lovelace'));
    expect(out.html).toContain('<h1>Shipped</h1>');
    expect(out.html).toContain('<strong>Ada_Lovelace</strong>');
    expect(out.html).not.toContain('<em>bold</em>');
    expect(out.html).not.toContain('<i>');
    expect(out.html).not.toContain('>link</a>');
    expect(out.text).toContain('*bold* <i>x</i> [link](http://evil)');
    expect(out.text).toContain('Shipped');
    expect(out.subject).toBe('Hi Ada_Lovelace');
  });

  it('triple-stash inserts a value unescaped (trusted Markdown)', () => {
    const t = compileTemplate({ format: 'markdown', body: '{{{snippet}}}' }, where);
    expect(t.render(scope({ snippet: '**trusted**' })).html).toContain('<strong>trusted</strong>');
  });
});

describe('blocks format', () => {
  it('takes subject, text and html from one source', () => {
    const body = '{{#block "subject"}}Order {{id}}{{/block}}\n{{#block "text"}}Plain {{id}} & more{{/block}}\n{{#block "html"}}<p>{{id}} &amp; {{tag}}</p>{{/block}}';
    const out = compileTemplate({ format: 'blocks', subject: 'ignored {{id}}', body }, where).render(scope({ id: '7', tag: '<b>' }));
    expect(out).toEqual({ format: 'blocks', subject: 'Order 7', text: 'Plain 7 & more', html: '<p>7 &amp; &lt;b&gt;</p>' });
  });

  it('without blocks the whole body is the text part; html-only derives text', () => {
    expect(compileTemplate({ format: 'blocks', subject: 'S', body: ' Just {{x}} ' }, where).render(scope({ x: 'text' }))).toEqual({ format: 'blocks', subject: 'S', text: 'Just text' });
    const htmlOnly = compileTemplate({ format: 'blocks', body: '{{#block "html"}}<p>Hi</p>{{/block}}' }, where).render(scope({}));
    expect(htmlOnly.text).toBe('Hi');
  });
});

describe('params format', () => {
  it('parses key-value lines before rendering, so data cannot add keys', () => {
    const t = compileTemplate({ format: 'params', subject: 'welcome-alias', body: 'order: {{id}}\nname: {{recipient.name}}\n: skipped\nno colon here\nurl: https://x.dev/{{id}}' }, where);
    const out = t.render(scope({ id: 'A1\nevil: 1' }));
    expect(out.params).toEqual({ order: 'A1\nevil: 1', name: 'Ada', url: 'https://x.dev/A1\nevil: 1' });
    expect(out.subject).toBe('welcome-alias');
  });

  it('renders nested objects (Block Kit) without HTML escaping', () => {
    const t = compileTemplate({ format: 'params', body: { text: 'Order {{id}}', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{id}}* <ok>' } }], n: 3 } }, where);
    expect(t.render(scope({ id: 'A&B' })).params).toEqual({ text: 'Order A&B', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*A&B* <ok>' } }], n: 3 });
  });

  it('parseParamsLines splits at the first colon', () => {
    expect(parseParamsLines('a: b: c\n  k  :  v  ')).toEqual({ a: 'b: c', k: 'v' });
  });
});

describe('text format', () => {
  it('renders raw by default and with the backend escape when given', () => {
    expect(compileTemplate({ format: 'text', body: 'Hi {{n}}' }, where).render(scope({ n: '<&>' })).text).toBe('Hi <&>');
    const slackish = compileTemplate({ format: 'text', body: 'Hi {{n}} {{{raw}}}' }, { ...where, escapeText: (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') });
    expect(slackish.render(scope({ n: '<@U1> & co', raw: '<!here>' })).text).toBe('Hi &lt;@U1&gt; &amp; co <!here>');
  });
});

describe('template errors', () => {
  it('a syntax error names the notification, channel and line', () => {
    try {
      compileTemplate({ format: 'html', body: 'line one\nline two {{#if x}}\nline three' }, where);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      const e = error as TemplateError;
      expect(e.message).toContain('order-shipped');
      expect(e.message).toContain('email');
      expect(e.line).toBeGreaterThanOrEqual(2);
    }
  });

  it('an unknown helper fails at render time with a TemplateError', () => {
    const t = compileTemplate({ format: 'text', body: '{{nope x}}' }, where);
    expect(() => t.render(scope({ x: 1 }))).toThrow(TemplateError);
  });
});

describe('templates folder', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads <notification>/<channel>.<format>.hbs with front-matter subjects', () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-tpl-'));
    mkdirSync(join(dir, 'order-shipped'));
    writeFileSync(join(dir, 'order-shipped', 'email.markdown.hbs'), '---\nsubject: Order {{id}}\n---\n# Hi');
    writeFileSync(join(dir, 'order-shipped', 'sms.text.hbs'), 'Order {{id}} shipped');
    writeFileSync(join(dir, 'order-shipped', 'README.md'), 'ignored');
    const files = loadTemplatesDir(dir);
    expect(files.map((f) => [f.channel, f.spec.format, f.spec.subject])).toEqual([
      ['email', 'markdown', 'Order {{id}}'],
      ['sms', 'text', undefined],
    ]);
  });

  it('a misnamed template file is a ConfigError naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-tpl-'));
    mkdirSync(join(dir, 'n'));
    writeFileSync(join(dir, 'n', 'email.rich.hbs'), 'x');
    expect(() => loadTemplatesDir(dir)).toThrow(/email\.rich\.hbs/);
    expect(() => loadTemplatesDir(join(dir, 'missing'))).toThrow(ConfigError);
  });
});

describe('rendering once per notify() call', () => {
  it('renders data-only parts once per call and recipient parts per recipient, each message its own copy', () => {
    const t = compileTemplate({ format: 'markdown', subject: 'Hi {{recipient.name}}', body: 'Order **{{id}}** shipped' }, where);
    const memo = new Map();
    const data = { id: 'A1' };
    const ada = t.render({ ...scope(data, 'Ada'), memo });
    data.id = 'changed'; // a second render within the same call must not render the data-only body again
    const bob = t.render({ ...scope(data, 'Bob'), memo });
    expect([ada.subject, bob.subject]).toEqual(['Hi Ada', 'Hi Bob']);
    expect(bob.html).toBe(ada.html);
    expect(ada.html).toContain('<strong>A1</strong>');
    expect(bob).not.toBe(ada);
    // A new call (new memo) renders again.
    expect(t.render(scope(data)).html).toContain('<strong>changed</strong>');
  });

  it('treats anything that could reach the recipient as per-recipient', () => {
    const memo = new Map();
    for (const body of ['{{#each this}}{{#each this}}{{this}} {{/each}}{{/each}}', '{{#with contact}}{{address}}{{/with}}', '{{lookup (lookup . "recipient") "name"}}', '{{@root.recipient.name}}']) {
      const t = compileTemplate({ format: 'text', body }, where);
      const a = t.render({ ...scope({}, 'Ada'), contact: { protocol: 'email', address: 'a@shop.dev' }, memo });
      const b = t.render({ ...scope({}, 'Bob'), contact: { protocol: 'email', address: 'b@shop.dev' }, memo });
      if (a.text !== b.text) continue;
      expect.fail(`"${body}" rendered the same text for two recipients: ${a.text}`);
    }
  });
});
