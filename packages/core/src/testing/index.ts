export * from './backend-suite';
export * from './capture-backend';
export * from './store-suite';
export * from './memory-store';
export * from './loopback';
