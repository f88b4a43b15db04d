import { memoryStore } from '../src/testing';
import { testStore } from '../src/testing/vitest';

testStore('memory', async () => ({ store: memoryStore() }));
