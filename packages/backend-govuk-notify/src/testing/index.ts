// `@herald/backend-govuk-notify/testing`: a loopback GOV.UK Notify for your tests and local runs.
export {
  FAKE_TEMPLATES,
  type FakeApiKey,
  type FakeNotification,
  type FakeNotify,
  type FakeNotifyOptions,
  type FakeNotifyRequest,
  type FakeTemplate,
  type FakeUpload,
  notifyError,
  startFakeNotify,
} from './fake-notify';
