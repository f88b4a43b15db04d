export * from './client';
export * from './xmpp';
