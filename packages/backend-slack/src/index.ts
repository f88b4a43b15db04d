export { escapeMrkdwn, slack, type SlackOptions } from './slack';
