// The main scenario: a realistic mix of post CRUD and the four AI tasks over stored posts (80% CRUD, 20% AI).
// Run: k6 run k6/ai_mixed.js  (env: BASE_URL or TARGET=flask|fastapi|django|all, RATE, DURATION, SUMMARY_JSON; see k6/README.md)
import { buildOptions } from './lib/config.js';
import { mixFromEnv, opsOf } from './lib/mix.js';
import { makeIteration } from './lib/scenario.js';
import { standardSetup } from './lib/api.js';
export { handleSummary } from './lib/summary.js';

const weights = mixFromEnv('list:30,read:30,create:8,update:8,delete:4,summarize:5,sentiment:5,title:5,tags:5');

export const options = buildOptions(opsOf(weights));

export function setup() {
  return standardSetup();
}

export const run = makeIteration(weights);
