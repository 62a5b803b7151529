// Everything a script reads from the environment, and the k6 options built from it.
// Load is open-model (constant-arrival-rate): the offered rate does not drop when the server slows down,
// so a slow server shows up as latency and dropped iterations instead of hiding behind fewer requests.

const DEFAULT_URLS = {
  flask: 'http://127.0.0.1:8001',
  fastapi: 'http://127.0.0.1:8002',
  django: 'http://127.0.0.1:8003',
};

function envNumber(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  }
  return value;
}

function envString(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

// Load must never leave the machine: a typo in a URL should not turn into a load test of someone else's server.
export function assertLoopback(url) {
  const match = /^https?:\/\/([^/:]+|\[[^\]]+\])(:\d+)?(\/.*)?$/.exec(url);
  const host = match ? match[1] : '';
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  // Inside the compose network the services are reached by their service name; allow that explicitly.
  const allowed = loopback || envString('ALLOW_NON_LOOPBACK', '') === '1';
  if (!allowed) {
    throw new Error(`refusing to load ${url}: only loopback targets are allowed (set ALLOW_NON_LOOPBACK=1 inside a private network)`);
  }
  return url.replace(/\/+$/, '');
}

// Targets: BASE_URL wins; otherwise TARGET=flask|fastapi|django|all picks from FLASK_URL/FASTAPI_URL/DJANGO_URL.
export function targets() {
  const baseUrl = envString('BASE_URL', '');
  const target = envString('TARGET', '');
  if (baseUrl && !target) {
    return [{ name: envString('TARGET_NAME', 'api'), url: assertLoopback(baseUrl) }];
  }
  const names = target === 'all' ? Object.keys(DEFAULT_URLS) : [target || 'flask'];
  return names.map((name) => {
    if (!(name in DEFAULT_URLS)) {
      throw new Error(`TARGET must be flask, fastapi, django or all, got "${name}"`);
    }
    const url = envString(`${name.toUpperCase()}_URL`, name === names[0] && baseUrl ? baseUrl : DEFAULT_URLS[name]);
    return { name, url: assertLoopback(url) };
  });
}

export const settings = {
  rate: envNumber('RATE', 10),
  duration: envString('DURATION', '30s'),
  preVUs: envNumber('PRE_VUS', 10),
  maxVUs: envNumber('MAX_VUS', 100),
  // Latency objectives in milliseconds, separately for cheap CRUD requests and for AI inference.
  crudP95Ms: envNumber('CRUD_P95_MS', 500),
  crudP99Ms: envNumber('CRUD_P99_MS', 1000),
  aiP95Ms: envNumber('AI_P95_MS', 20000),
  aiP99Ms: envNumber('AI_P99_MS', 30000),
  maxErrorRate: envNumber('MAX_ERROR_RATE', 0.01),
  // With INFERENCE_MODE=off the API answers AI routes 503 ai_disabled by design; count those as expected.
  aiDisabledOk: envString('AI_DISABLED_OK', '') === '1',
  requestTimeout: envString('REQUEST_TIMEOUT', '60s'),
  // How long in-flight requests may finish after the window; the runner shortens it so overload is not hidden.
  gracefulStop: envString('GRACEFUL_STOP', '10s'),
  seedPosts: envNumber('SEED_POSTS', 20),
  // Comma-separated ids of posts that already exist (the benchmark runner seeds them itself).
  seedIds: envString('SEED_IDS', ''),
  // Only when asked (the benchmark runner and the stack test ask): a run from the README leaves no file behind.
  summaryJson: envString('SUMMARY_JSON', ''),
};

// k6 takes whole iterations per time unit: a fractional rate (2.5/s) becomes 2500 per 1000 s, evenly spaced.
export function arrivalRate(perSecond) {
  if (Number.isInteger(perSecond)) return { rate: perSecond, timeUnit: '1s' };
  return { rate: Math.round(perSecond * 1000), timeUnit: '1000s' };
}

const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'count'];

// ops: list of {op, kind}; every op gets its own sub-metrics so the summary splits results per request type.
export function buildOptions(ops, execName = 'run') {
  const scenarios = {};
  for (const target of targets()) {
    scenarios[target.name] = {
      executor: 'constant-arrival-rate',
      exec: execName,
      ...arrivalRate(settings.rate),
      duration: settings.duration,
      preAllocatedVUs: settings.preVUs,
      maxVUs: settings.maxVUs,
      gracefulStop: settings.gracefulStop,
      env: { TARGET_URL: target.url, TARGET_NAME: target.name },
      tags: { target: target.name },
    };
  }
  const thresholds = {
    http_req_failed: [`rate<${settings.maxErrorRate}`],
    // Always-true thresholds make k6 keep these sub-metrics in the summary, so results split by type.
    dropped_iterations: ['count>=0'],
    iterations: ['count>=0'],
  };
  const kinds = new Set(ops.map((o) => o.kind));
  if (kinds.has('crud')) {
    thresholds['http_req_duration{kind:crud}'] = [`p(95)<${settings.crudP95Ms}`, `p(99)<${settings.crudP99Ms}`];
    thresholds['http_req_failed{kind:crud}'] = ['rate>=0'];
    thresholds['http_reqs{kind:crud}'] = ['count>=0'];
  }
  if (kinds.has('ai')) {
    thresholds['http_req_duration{kind:ai}'] = [`p(95)<${settings.aiP95Ms}`, `p(99)<${settings.aiP99Ms}`];
    thresholds['http_req_failed{kind:ai}'] = ['rate>=0'];
    thresholds['http_reqs{kind:ai}'] = ['count>=0'];
  }
  for (const { op } of ops) {
    thresholds[`http_req_duration{op:${op}}`] = ['max>=0'];
    thresholds[`http_req_failed{op:${op}}`] = ['rate>=0'];
    thresholds[`http_reqs{op:${op}}`] = ['count>=0'];
  }
  for (const target of targets()) {
    thresholds[`http_req_duration{target:${target.name}}`] = ['max>=0'];
    thresholds[`http_reqs{target:${target.name}}`] = ['count>=0'];
  }
  return {
    scenarios,
    thresholds,
    summaryTrendStats: TREND_STATS,
    // setup() may wait for models to warm; it is bounded all the same.
    setupTimeout: envString('SETUP_TIMEOUT', '120s'),
    teardownTimeout: '30s',
    discardResponseBodies: false,
    userAgent: 'blog-ai-bench/k6',
  };
}
