export * from './postal';
