// CRUD only: the baseline every AI scenario is compared against.
// Run: k6 run k6/crud.js  (env: BASE_URL or TARGET=flask|fastapi|django|all, RATE, DURATION, SUMMARY_JSON; see k6/README.md)
import { buildOptions } from './lib/config.js';
import { mixFromEnv, opsOf } from './lib/mix.js';
import { makeIteration } from './lib/scenario.js';
import { standardSetup } from './lib/api.js';
export { handleSummary } from './lib/summary.js';

const weights = mixFromEnv('list:40,read:40,create:8,update:8,delete:4');

export const options = buildOptions(opsOf(weights));

export function setup() {
  return standardSetup();
}

export const run = makeIteration(weights);
