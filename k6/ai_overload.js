// AI past capacity beside ordinary traffic: AI_CLIENTS closed-loop clients post to /ai/title, /ai/summarize and
// /ai/sentiment in turn while one reader gets a post CRUD_RATE times a second. What to watch: whether the reads
// stay fast, and whether the surplus AI requests get quick 429/503 answers (clients honour Retry-After) or wait.
// Run: BASE_URL=http://127.0.0.1:8001 AI_CLIENTS=24 AI_ARRIVAL_S=2 CRUD_RATE=10 DURATION=30s k6 run k6/ai_overload.js
// Other shapes of the same load: AI_RATE=3 offers AI open-loop (3 new requests a second, whatever the answers: each
// one a new user, refusals are not retried) instead of AI_CLIENTS; READERS=16 reads closed-loop (as fast as the
// service answers) instead of CRUD_RATE; AI_TASKS=title,tags picks the AI routes (default title,summarize,sentiment);
// AI_TASK_PICK=random has each closed-loop request pick its route at random instead of in turn.
// The benchmark (python -m bench run, bench/centre.py) and bench/overload.py run it and read its per-request output.
import http from 'k6/http';
import { sleep } from 'k6';
import { settings, targets } from './lib/config.js';
import { postPayload, readPost, runAI } from './lib/api.js';
export { handleSummary } from './lib/summary.js';

const AI_TASKS = (__ENV.AI_TASKS || 'title,summarize,sentiment').split(',').filter((task) => task);
// In turn, a few closed-loop clients can fall into step and hold a pattern of tasks for a whole window: against a
// batching inference service one 20 s window answered title and sentiment in 117 and 88 ms, its neighbours in
// 153 and 124 ms, and read 600 answers against 494-528. At random no pattern lasts.
const pickAtRandom = (__ENV.AI_TASK_PICK || 'turn') === 'random';
const aiRate = Number(__ENV.AI_RATE || 0);
// Open-loop AI replaces the closed-loop clients; so do closed-loop readers the reads at a rate.
const aiClients = aiRate > 0 ? 0 : Number(__ENV.AI_CLIENTS ?? 24);
const readers = Number(__ENV.READERS || 0);
const crudRate = readers > 0 ? 0 : Number(__ENV.CRUD_RATE ?? 10);
// Reads may start this many seconds after the AI load (READ_AFTER_S), so they meet the queue it has built up;
// they then run for READ_S seconds (default: to the end of DURATION).
const readAfterS = Number(__ENV.READ_AFTER_S || 0);
const readS = __ENV.READ_S ? `${Number(__ENV.READ_S)}s` : settings.duration;
// Clients arrive one after another over this many seconds, as a burst of users does; all at the same instant they
// would measure how fast the machine opens 24 connections at once, not how the service answers AI demand.
const arrivalS = Number(__ENV.AI_ARRIVAL_S ?? 2);
const target = targets()[0];
const base = target.url;
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const scenarios = {};
if (aiClients > 0) {
  scenarios.ai = {
    executor: 'constant-vus', exec: 'ai', vus: aiClients, duration: settings.duration,
    gracefulStop: settings.gracefulStop, tags: { target: target.name },
  };
}
if (aiRate > 0) {
  // An AI request may take its whole timeout when nothing refuses it: enough users to keep offering meanwhile.
  scenarios.ai_open = {
    executor: 'constant-arrival-rate', exec: 'aiOpen', rate: Math.round(aiRate * 1000), timeUnit: '1000s',
    duration: settings.duration, preAllocatedVUs: Math.max(2, Math.ceil(aiRate * 2)),
    maxVUs: Math.max(10, Math.ceil(aiRate * 60)), gracefulStop: settings.gracefulStop, tags: { target: target.name },
  };
}
if (readers > 0) {
  scenarios.readers = {
    executor: 'constant-vus', exec: 'crud', vus: readers, duration: settings.duration,
    gracefulStop: settings.gracefulStop, tags: { target: target.name },
  };
}
if (crudRate > 0) {
  scenarios.crud = {
    // k6 takes whole arrivals per time unit: per 1000 s keeps a fractional rate exact.
    executor: 'constant-arrival-rate', exec: 'crud', rate: Math.round(crudRate * 1000), timeUnit: '1000s',
    startTime: `${readAfterS}s`, duration: readS,
    // Every reader allocated up front (k6 may drop an arrival while it starts a new VU): a read is dropped only
    // when the service keeps all of them waiting, and the benchmark counts those as unanswered.
    preAllocatedVUs: Math.max(50, Math.ceil(crudRate)), maxVUs: Math.max(50, Math.ceil(crudRate)),
    gracefulStop: settings.gracefulStop, tags: { target: target.name },
  };
}

export const options = {
  scenarios,
  thresholds: {
    // What the AI guard promises: reads stay fast and fail-free however much AI is asked for.
    'http_req_duration{kind:crud}': [`p(99)<${Number(__ENV.CRUD_P99_MS || 250)}`],
    'http_req_failed{kind:crud}': ['rate<0.01'],
  },
  setupTimeout: '120s',
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max', 'count'],
  userAgent: 'blog-ai-bench/k6',
};

export function setup() {
  const ready = http.get(`${base}/ready`, { timeout: '10s' });
  if (ready.status !== 200) throw new Error(`${base}/ready answered ${ready.status}: start the API and wait for it`);
  const created = http.post(`${base}/posts`, JSON.stringify(postPayload()), { headers: JSON_HEADERS });
  if (created.status !== 201) throw new Error(`creating the post to read failed: ${created.status} ${created.body}`);
  return { postId: created.json('id') };
}

// The text is a real news article when AI_TEXTS names the benchmark's sample (k6/lib/texts.js), else the post's.
export function ai(data) {
  if (__ITER === 0) sleep((arrivalS * ((__VU - 1) % aiClients)) / aiClients);
  const pick = pickAtRandom ? Math.floor(Math.random() * AI_TASKS.length) : (__VU + __ITER) % AI_TASKS.length;
  const res = runAI(base, AI_TASKS[pick], data.postId);
  if (res.status === 429 || res.status === 503) {
    // A well-behaved client waits as long as it is told to (a little spread, so retries do not come in step).
    sleep((Number(res.headers['Retry-After']) || 1) * (0.75 + Math.random() / 2));
  }
}

let openIteration = 0;
export function aiOpen(data) {
  runAI(base, AI_TASKS[(__VU + openIteration++) % AI_TASKS.length], data.postId);
}

export function crud(data) {
  readPost(base, data.postId);
}
