export { TWEET_MAX_LENGTH, TWEET_URL_LENGTH, truncateTweet, tweetLength } from './length';
export { type TwitterOptions, twitter } from './twitter';
