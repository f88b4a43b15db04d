export * from './sqlite-store';
