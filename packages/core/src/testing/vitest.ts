// `@herald/core/testing/vitest`: the conformance suites, written for vitest (they call describe/it/expect).
// Run-time helpers and test doubles stay in `@herald/core/testing`, which imports without vitest.
export {
  type BackendCheck,
  type BackendHarness,
  type ReceivedAttachment,
  type ReceivedMessage,
  testBackend,
  type UnsupportedCase,
} from './backend-suite';
// The store fixtures live beside the store suite for now, so they are exported from here too.
export {
  makeAttempt,
  makeDelivery,
  makeEvent,
  makeInbound,
  makeStoredMessage,
  type StoreUnderTest,
  type TestStoreOptions,
  testStore,
} from './store-suite';
