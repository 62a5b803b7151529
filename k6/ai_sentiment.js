// One AI task alone: POST /ai/sentiment over stored posts.
// Run: k6 run k6/ai_sentiment.js  (env: BASE_URL or TARGET=flask|fastapi|django|all, RATE, DURATION, SUMMARY_JSON; see k6/README.md)
import { buildOptions } from './lib/config.js';
import { mixFromEnv, opsOf } from './lib/mix.js';
import { makeIteration } from './lib/scenario.js';
import { standardSetup } from './lib/api.js';
export { handleSummary } from './lib/summary.js';

const weights = mixFromEnv('sentiment:1');

export const options = buildOptions(opsOf(weights));

export function setup() {
  return standardSetup();
}

export const run = makeIteration(weights);
