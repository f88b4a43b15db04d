export * from './postmark';
