export * from './length';
export * from './twitter';
