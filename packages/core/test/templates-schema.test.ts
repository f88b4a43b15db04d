import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Backend, createTemplateRegistry, defineNotification, type TemplateSpec, TemplateError } from '../src';
import { captureBackend } from '../src/testing';

const email = captureBackend({ protocol: 'email' });
const slack = captureBackend({ protocol: 'slack-webhook', name: 'slack' });
const byName = (...list: Backend[]) => new Map(list.map((b) => [b.name, b]));

const order = z.object({
  orderId: z.string(),
  total: z.number(),
  customer: z.object({ name: z.string(), vip: z.boolean().optional() }),
  items: z.array(z.object({ sku: z.string(), qty: z.number() })),
  tags: z.array(z.string()).default([]),
  note: z.string().nullable().optional(),
  shipping: z.union([z.object({ kind: z.literal('post'), tracking: z.string() }), z.object({ kind: z.literal('pickup'), store: z.string() })]).optional(),
});

/** Compile one template for the order schema; return the error it raised, if any. */
function check(spec: TemplateSpec, extra: { schema?: z.ZodType; strictTemplates?: boolean; channel?: string; helpers?: Record<string, () => string>; partials?: Record<string, string> } = {}): TemplateError | null {
  const n = defineNotification({
    id: 'order-shipped',
    schema: extra.schema ?? order,
    templates: { [extra.channel ?? 'email']: spec },
    ...(extra.strictTemplates === undefined ? {} : { strictTemplates: extra.strictTemplates }),
  });
  try {
    createTemplateRegistry({ notifications: [n], backends: byName(email, slack), ...(extra.helpers ? { helpers: extra.helpers } : {}), ...(extra.partials ? { partials: extra.partials } : {}) });
    return null;
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
}
const body = (source: string, format: TemplateSpec['format'] = 'markdown'): TemplateSpec => ({ format, body: source });

describe('templates are checked against the schema at start-up', () => {
  it('a misspelt variable is a TemplateError naming the notification, channel, line and the closest field', () => {
    const error = check(body('# Order\n\nThanks!\nOrder {{ordrId}} is on its way.'));
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toMatchObject({ notification: 'order-shipped', channel: 'email', line: 4 });
    expect(error!.message).toContain('did you mean `orderId`?');
    expect(error!.message).toContain('ordrId');
  });

  it('accepts every field, nested objects, arrays, optional/nullable/default wrappers and unions of objects', () => {
    const source = [
      '{{orderId}} {{total}} {{customer.name}} {{#if customer.vip}}VIP{{/if}} {{note}}',
      '{{#each items}}{{sku}} × {{qty}} ({{@index}}/{{@key}}{{#if @first}}first{{/if}}{{#if @last}}last{{/if}}) {{../orderId}} {{@root.total}}{{/each}}',
      '{{#each items as |item i|}}{{item.sku}} {{i}}{{/each}}',
      '{{#each tags}}{{this}}{{else}}no tags{{/each}} {{tags.length}} {{items.0.sku}}',
      '{{#with customer}}{{name}}{{/with}} {{#with shipping}}{{tracking}}{{store}}{{kind}}{{/with}} {{shipping.tracking}}',
      '{{#unless note}}no note{{/unless}} {{recipient.name}} {{recipient.id}} {{contact.address}} {{contact.protocol}} {{this.orderId}}',
      '{{lookup customer "name"}} {{#customer}}{{name}}{{/customer}}',
    ].join('\n');
    expect(check(body(source))).toBeNull();
  });

  it('follows #each into array elements and #with into objects', () => {
    expect(check(body('{{#each items}}{{skuu}}{{/each}}'))?.message).toMatch(/no field `skuu`; did you mean `sku`\?/);
    expect(check(body('{{#with customer}}{{nmae}}{{/with}}'))?.message).toMatch(/did you mean `name`\?/);
    expect(check(body('{{customer.nmae}}'))?.message).toMatch(/`customer` has no field `nmae`; did you mean `name`\?/);
    expect(check(body('{{#each items as |item|}}{{item.qtty}}{{/each}}'))?.message).toMatch(/did you mean `qty`\?/);
    expect(check(body('{{#each items}}{{../ordrId}}{{/each}}'))?.message).toMatch(/did you mean `orderId`\?/);
    expect(check(body('{{@root.ordrId}}'))?.message).toMatch(/did you mean `orderId`\?/);
    expect(check(body('{{#with shipping}}{{trackng}}{{/with}}'))?.message).toMatch(/did you mean `tracking`\?/);
    expect(check(body('{{recipient.nmae}}'))?.message).toMatch(/did you mean `name`\?/);
    expect(check(body('{{contact.adress}}'))?.message).toMatch(/did you mean `address`\?/);
  });

  it('an unknown helper or data variable is an error; built-in and registered helpers are known', () => {
    expect(check(body('{{uppercase orderId}}'))?.message).toMatch(/unknown helper `uppercase`/);
    expect(check(body('{{#each items}}{{@indx}}{{/each}}'))?.message).toMatch(/unknown data variable `@indx`/);
    expect(check(body('{{uppercase orderId}} {{#uppercase}}x{{/uppercase}}'), { helpers: { uppercase: () => '' } })).toBeNull();
    expect(check(body('{{log orderId}} {{lookup items 0}}'))).toBeNull();
  });

  it('checks the subject, from, params leaves (object and lines), blocks and text', () => {
    expect(check({ format: 'markdown', subject: 'Order {{ordrId}}', body: 'x' })?.message).toMatch(/subject: .*did you mean `orderId`\?/);
    expect(check({ format: 'markdown', from: '"{{customer.nmae}}" <shop@shop.dev>', body: 'x' })?.message).toMatch(/from: .*did you mean `name`\?/);
    const leaf = check({ format: 'params', body: { blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '{{totl}}' } }] } }, { channel: 'slack' });
    expect(leaf?.message).toMatch(/params blocks\[0\]\.text\.text: .*did you mean `total`\?/);
    const lines = check({ format: 'params', body: 'order: {{orderId}}\n\ntotal: {{totl}}' }, { channel: 'slack' });
    expect(lines).toMatchObject({ line: 3 });
    expect(lines?.message).toMatch(/params total: .*did you mean `total`\?/);
    const blocks = check(body('{{#block "subject"}}{{orderId}}{{/block}}\n{{#block "html"}}\n<p>{{ordrId}}</p>{{/block}}', 'blocks'));
    expect(blocks).toMatchObject({ line: 3 });
    expect(check(body('Order {{orderId}} for {{recipient.name}}', 'text'), { channel: 'slack' })).toBeNull();
  });

  it('follows partials with the caller\'s context', () => {
    expect(check(body('{{> line}}'), { partials: { line: '{{orderId}} {{customer.name}}' } })).toBeNull();
    expect(check(body('{{#each items}}{{> item}}{{/each}}'), { partials: { item: '{{sku}}' } })).toBeNull();
    const error = check(body('x\n{{> line}}'), { partials: { line: '{{ordrId}}' } });
    expect(error).toMatchObject({ line: 2 });
    expect(error?.message).toMatch(/in partial `line`.*did you mean `orderId`\?/);
    expect(check(body('{{> missing}}'))?.message).toMatch(/unknown partial `missing`/);
  });

  it('schemas that are not objects skip the check; loose objects allow any top-level key', () => {
    expect(check(body('{{anything.at.all}}'), { schema: z.record(z.string(), z.string()) })).toBeNull();
    expect(check(body('{{anything}}'), { schema: z.any() })).toBeNull();
    expect(check(body('{{anything}}'), { schema: z.unknown() })).toBeNull();
    expect(check(body('{{extra}} {{meta.x}}'), { schema: z.object({ meta: z.record(z.string(), z.string()) }).loose() })).toBeNull();
    expect(check(body('{{n.length}} {{n.anything}}'), { schema: z.object({ n: z.string().transform((s) => s.length) }) })).toBeNull();
  });

  it('strictTemplates: false turns the check off for one notification', () => {
    expect(check(body('{{ordrId}}'), { strictTemplates: false })).toBeNull();
  });

  it('a field far from every known one lists the known fields instead of guessing', () => {
    const error = check(body('{{zzzzzzzz}}'));
    expect(error?.message).toMatch(/no field `zzzzzzzz` \(known: orderId, total, customer/);
  });
});
