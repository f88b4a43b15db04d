export type { XmppClient, XmppElement } from './client';
export { type XmppOptions, xmpp } from './xmpp';
