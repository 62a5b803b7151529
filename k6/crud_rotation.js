// CRUD capacity of several APIs measured in turn: closed-loop readers visit each API for a short slot, in the
// order SLOTS gives, so a host whose speed drifts over a run slows every API alike instead of whichever was
// measured during the slow minute. SLOTS is JSON: [{"name": "flask", "url": "http://127.0.0.1:8001",
// "start_s": 0, "seconds": 2.5}, ...]; every request is tagged with its slot's name (target) and index (slot).
// READERS closed-loop readers per slot (default 16). The benchmark (bench/rotation.py) writes SLOTS and reads
// k6's per-request output.
import http from 'k6/http';
import { assertLoopback, settings } from './lib/config.js';
import { postPayload, readPost } from './lib/api.js';
export { handleSummary } from './lib/summary.js';

const slots = JSON.parse(__ENV.SLOTS || '[]').map((slot) => ({ ...slot, url: assertLoopback(slot.url) }));
if (slots.length === 0) throw new Error('SLOTS must list at least one {name, url, start_s, seconds}');
const readers = Number(__ENV.READERS || 16);
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const scenarios = {};
slots.forEach((slot, index) => {
  scenarios[`slot${index}`] = {
    executor: 'constant-vus', exec: 'read', vus: readers, startTime: `${slot.start_s}s`,
    duration: `${slot.seconds}s`, gracefulStop: settings.gracefulStop,
    env: { SLOT: String(index) }, tags: { target: slot.name, slot: String(index) },
  };
});

export const options = {
  scenarios,
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max', 'count'],
  userAgent: 'blog-ai-bench/k6',
};

// One post to read in every API, created before the first slot starts.
export function setup() {
  const postIds = {};
  for (const url of new Set(slots.map((slot) => slot.url))) {
    const ready = http.get(`${url}/ready`, { timeout: '10s' });
    if (ready.status !== 200) throw new Error(`${url}/ready answered ${ready.status}: start the API and wait for it`);
    const created = http.post(`${url}/posts`, JSON.stringify(postPayload()), { headers: JSON_HEADERS });
    if (created.status !== 201) throw new Error(`creating the post to read at ${url} failed: ${created.status}`);
    postIds[url] = created.json('id');
  }
  return { postIds };
}

export function read(data) {
  const slot = slots[Number(__ENV.SLOT)];
  readPost(slot.url, data.postIds[slot.url]);
}
