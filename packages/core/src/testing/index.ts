// `@herald/core/testing`: test doubles and helpers that need no test runner (node:test, jest, vitest or a plain
// script). The vitest conformance suites are in `@herald/core/testing/vitest`; nothing here may import vitest.
export {
  expectNoSecrets,
  foreignAddresses,
  makeOutboundMessage,
  makeSendContext,
  type OutboundMessageOverrides,
  SAMPLE_ADDRESSES,
  SUITE_TEMPLATES,
} from './backend-helpers';
export { type CaptureBackend, type CaptureBackendOptions, captureBackend, type InjectedFailure } from './capture-backend';
export { type DeliveryTrace, secretForms, secretLeaks, traceDelivery } from './leaks';
export { type LoopbackAnswer, loopback, type RecordedRequest } from './loopback';
export { type MemoryStoreOptions, memoryStore } from './memory-store';
