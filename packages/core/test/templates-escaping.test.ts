import { describe, expect, it } from 'vitest';
import { compileTemplate, type TemplateLocation, type TemplateSpec } from '../src';

const scope = (data: Record<string, unknown>, name = 'Ada') => ({
  data,
  recipient: { id: 'u1', name },
  contact: { protocol: 'email', address: 'ada@shop.dev' },
  memo: new Map(),
});
const where: TemplateLocation = { notification: 'order-shipped', channel: 'email' };
const render = (spec: TemplateSpec, data: Record<string, unknown>, location: TemplateLocation = where) => compileTemplate(spec, location).render(scope(data));

/** Slack's mrkdwn escaping, as @herald/backend-slack declares it. */
const mrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const slack: TemplateLocation = { notification: 'incident', channel: 'slack-webhook', escapeText: mrkdwn };

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };
const escapedOnce = (s: string) => s.replace(/[&<>"'`=]/g, (c) => HTML_ESCAPES[c]!);
/** The text part may be wrapped at 78 columns; compare with runs of whitespace folded. */
const folded = (s: string | undefined) => (s ?? '').replace(/\s+/g, ' ');

const LONG = `${'Lorem ipsum dolor sit amet, '.repeat(12)}end.`;
/** Values that must read exactly as typed. */
const VALUES: Record<string, string> = {
  apostrophe: "O'Brien",
  equals: 'a=b',
  backticks: '`x`',
  ampersand: 'Tea & biscuits',
  lt: '1 < 2',
  quote: 'say "hi"',
  cjk: '東京の注文 🎉📦',
  long: LONG,
};

describe.each(Object.entries(VALUES))('%s reads exactly as typed', (_label, value) => {
  it('html: escaped once in the HTML part, as typed in the generated text part', () => {
    const out = render({ format: 'html', subject: 'Re: {{v}}', body: '<p>Value: {{v}}</p>' }, { v: value });
    expect(out.html).toBe(`<p>Value: ${escapedOnce(value)}</p>`);
    expect(folded(out.text)).toBe(folded(`Value: ${value}`));
    expect(out.subject).toBe(`Re: ${value}`);
  });

  // Regression: data was HTML-escaped, then Markdown-escaped (O'Brien → O&amp;#x27;Brien in the HTML part).
  it('markdown: escaped once in the HTML part, as typed in the text part', () => {
    const out = render({ format: 'markdown', subject: 'Re: {{v}}', body: '# Hi {{recipient.name}}\n\nValue: {{v}}\n\n**{{v}}**' }, { v: value });
    expect(out.html).toContain(`<p>Value: ${escapedOnce(value)}</p>`);
    expect(out.html).toContain(`<strong>${escapedOnce(value)}</strong>`);
    expect(out.html).not.toMatch(/&amp;(#|amp;|lt;|quot;)|\\/);
    expect(folded(out.text)).toContain(folded(`Value: ${value}`));
    expect(out.subject).toBe(`Re: ${value}`);
  });

  it('markdown: the recipient name (the README\'s own "Hi {{recipient.name}}") too', () => {
    const out = compileTemplate({ format: 'markdown', body: 'Hi {{recipient.name}}' }, where).render(scope({}, value));
    expect(out.html).toBe(`<p>Hi ${escapedOnce(value)}</p>\n`);
    expect(folded(out.text)).toBe(folded(`Hi ${value}`));
  });

  it('blocks: escaped once in the html block, as typed in the text block', () => {
    const body = '{{#block "subject"}}S {{v}}{{/block}}{{#block "text"}}T {{v}}{{/block}}{{#block "html"}}<p>H {{v}}</p>{{/block}}';
    const out = render({ format: 'blocks', body }, { v: value });
    expect(out).toEqual({ format: 'blocks', subject: `S ${value}`, text: `T ${value}`, html: `<p>H ${escapedOnce(value)}</p>` });
  });

  it('params: as typed (JSON), or escaped once for Slack mrkdwn', () => {
    const spec: TemplateSpec = { format: 'params', body: { text: 'Order: {{v}}', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{v}}*' } }] } };
    expect(render(spec, { v: value }).params).toEqual({ text: `Order: ${value}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${value}*` } }] });
    expect(render(spec, { v: value }, slack).params).toEqual({ text: `Order: ${mrkdwn(value)}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${mrkdwn(value)}*` } }] });
    expect(render({ format: 'params', body: `line: {{v}}` }, { v: value }).params).toEqual({ line: value });
  });

  it('text: as typed, or escaped once for Slack mrkdwn', () => {
    expect(render({ format: 'text', body: 'T {{v}}' }, { v: value }).text).toBe(`T ${value}`);
    expect(render({ format: 'text', body: 'T {{v}}' }, { v: value }, slack).text).toBe(`T ${mrkdwn(value)}`);
  });
});

/** Data that would be Markdown structure if marked saw it. */
const STRUCTURE: Record<string, string> = {
  'a bare URL': 'https://evil.example/login',
  'a www. host': 'www.evil.example',
  'an e-mail address': 'eve@evil.example',
  'a list item': '- free money',
  'an ordered list item': '1. free money',
  'a heading': '# Urgent',
  'a quote': '> from your bank',
  'a rule': '---',
  'an indented code block': '    rm -rf /',
  'emphasis': '*bold* and _italic_',
  'a link': '[click](https://evil.example)',
  'an image': '![x](https://evil.example/x.png)',
  'inline HTML': '<b>bold</b><img src=x onerror=alert(1)>',
  'a code span': '`code`',
  'a table row': '| a | b |\n|---|---|\n| 1 | 2 |',
  'a setext heading': 'Title\n=====',
  'a fenced block': '```\ncode\n```',
  'an entity': '&copy; &#x27;',
  'a hard break': 'a  \nb',
  'a backslash escape': '\\*not\\*',
};

describe.each(Object.entries(STRUCTURE))('markdown: data that is %s creates no structure', (_label, value) => {
  const spec: TemplateSpec = { format: 'markdown', body: 'Before\n\n{{v}}\n\nInline {{v}} here\n\n- item {{v}}' };
  it('in the HTML part', () => {
    const { html } = render(spec, { v: value });
    const tags = [...html!.matchAll(/<([a-z0-9]+)/g)].map((m) => m[1]);
    // Only the template's own paragraphs and list: no link, heading, quote, rule, code, emphasis or HTML from data.
    expect(new Set(tags)).toEqual(new Set(['p', 'ul', 'li']));
    expect(html).toContain(`<p>${escapedOnce(value)}</p>`);
    expect(html).toContain(`<li>item ${escapedOnce(value)}</li>`);
  });
  it('in the text part (as typed, no link targets)', () => {
    const { text } = render(spec, { v: value });
    expect(text).toContain(value);
    expect(text).toContain(`Inline ${value} here`);
    expect(text).not.toMatch(/\[(https?|mailto):/);
  });
});

describe('markdown: the template makes structure, trusted Markdown still can', () => {
  it('links, emphasis and code spans of the template wrap data that stays inert', () => {
    const out = render({ format: 'markdown', body: '[Track {{id}}](https://shop.dev/t/{{id}}) `{{code}}` _{{who}}_' }, { id: 'A&1', code: '<b>', who: '*me*' });
    expect(out.html).toBe('<p><a href="https://shop.dev/t/A&amp;1">Track A&amp;1</a> <code>&lt;b&gt;</code> <em>*me*</em></p>\n');
    expect(folded(out.text)).toBe('Track A&1 [https://shop.dev/t/A&1] <b> *me*');
  });

  it('triple-stash inserts trusted Markdown', () => {
    const out = render({ format: 'markdown', body: '{{{snippet}}}\n\n{{plain}}' }, { snippet: '- **trusted** [l](https://x.dev)', plain: '- not' });
    expect(out.html).toContain('<li><strong>trusted</strong> <a href="https://x.dev">l</a></li>');
    expect(out.html).toContain('<p>- not</p>');
  });

  it('each over a list of data: the template\'s list items, the data\'s text', () => {
    const out = render({ format: 'markdown', body: '{{#each items}}\n- {{this}}\n{{/each}}' }, { items: ['1. one', '> two', '# three'] });
    expect(out.html).toBe('<ul>\n<li>1. one</li>\n<li>&gt; two</li>\n<li># three</li>\n</ul>\n');
  });

  it('a value that looks like a placeholder stays itself', () => {
    const first = render({ format: 'markdown', body: 'a {{a}}' }, { a: 'x' });
    expect(first.html).toBe('<p>a x</p>\n');
    const out = render({ format: 'markdown', body: '{{a}} {{b}}' }, { a: 'H0Z', b: 'HABCDEFGHIJ0Z' });
    expect(out.html).toBe('<p>H0Z HABCDEFGHIJ0Z</p>\n');
  });

  it('the contact address is data too (no mailto link)', () => {
    const out = render({ format: 'markdown', body: 'Sent to {{contact.address}}' }, {});
    expect(out.html).toBe('<p>Sent to ada@shop.dev</p>\n');
  });
});

describe('html format: data cannot create structure', () => {
  it('tags, entities and attributes in data are text in both parts', () => {
    const value = '<a href="https://evil.example">x</a> &amp; \' onmouseover=alert(1)';
    const out = render({ format: 'html', body: '<p title="{{v}}">{{v}}</p>' }, { v: value });
    expect(out.html).toBe(`<p title="${escapedOnce(value)}">${escapedOnce(value)}</p>`);
    expect(out.text).toBe(value);
  });
});

describe('Slack params: data in Block Kit is inert', () => {
  it('mentions, channel pings and links in data are escaped in every leaf; triple-stash stays raw', () => {
    const spec: TemplateSpec = {
      format: 'params',
      body: {
        text: 'Incident {{title}}',
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: '*{{title}}* by {{by}}' } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: '{{{trusted}}}' }] },
        ],
      },
    };
    const out = render(spec, { title: '<!channel>', by: '<@U123> & <https://evil.example|your bank>', trusted: '<!here>' }, slack);
    expect(out.params).toEqual({
      text: 'Incident &lt;!channel&gt;',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: '*&lt;!channel&gt;* by &lt;@U123&gt; &amp; &lt;https://evil.example|your bank&gt;' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: '<!here>' }] },
      ],
    });
  });

  it('a backend without escapeText (json-webhook) keeps params as raw strings', () => {
    expect(render({ format: 'params', body: { text: '{{t}} and {{t}}' } }, { t: '<!channel> & co' }).params).toEqual({ text: '<!channel> & co and <!channel> & co' });
  });
});
