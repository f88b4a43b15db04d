import { memoryStore, testStore } from '../src/testing';

testStore('memory', async () => ({ store: memoryStore() }));
