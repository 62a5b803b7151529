// Requests against the blog API, each tagged with its route template (name), its operation and its kind,
// so the summary and Prometheus split latency per request type instead of per URL.
import http from 'k6/http';
import { check, fail } from 'k6';
import { settings, targets } from './config.js';
import { texts, textWords } from './texts.js';

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const AI_TASKS = ['summarize', 'sentiment', 'title', 'tags'];

const WORDS = (
  'the model reads every post and writes a short summary while the server keeps answering readers who only want ' +
  'to list and read posts quickly latency matters more than anything else when a page waits for an answer ' +
  'frameworks differ in how they schedule work on threads processes and event loops and inference is heavy'
).split(' ');

function sentence(words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(Math.random() * WORDS.length)]);
  return out.join(' ');
}

export function postPayload() {
  return {
    title: `Benchmark post ${Math.floor(Math.random() * 1e9)}`,
    body: `${sentence(60)}. ${sentence(60)}.`,
    tags: ['bench', ['python', 'ai', 'web'][Math.floor(Math.random() * 3)]],
  };
}

function params(op, kind, name, expected) {
  return {
    headers: JSON_HEADERS,
    timeout: settings.requestTimeout,
    tags: { name, op, kind },
    responseCallback: http.expectedStatuses(...expected),
  };
}

function jsonOr(res, fallback) {
  try {
    return res.json();
  } catch (_) {
    return fallback;
  }
}

export function listPosts(base) {
  const page = 1 + Math.floor(Math.random() * 3);
  const res = http.get(`${base}/posts?page=${page}&page_size=20`, params('list', 'crud', '/posts', [200]));
  check(res, { 'list 200': (r) => r.status === 200 });
  return res;
}

export function readPost(base, id) {
  const res = http.get(`${base}/posts/${id}`, params('read', 'crud', '/posts/{post_id}', [200]));
  check(res, { 'read 200': (r) => r.status === 200 });
  return res;
}

export function createPost(base) {
  const res = http.post(`${base}/posts`, JSON.stringify(postPayload()), params('create', 'crud', '/posts', [201]));
  check(res, { 'create 201': (r) => r.status === 201 });
  return res.status === 201 ? jsonOr(res, {}).id : undefined;
}

export function updatePost(base, id) {
  const res = http.put(`${base}/posts/${id}`, JSON.stringify(postPayload()), params('update', 'crud', '/posts/{post_id}', [200]));
  check(res, { 'update 200': (r) => r.status === 200 });
  return res;
}

export function deletePost(base, id) {
  const res = http.del(`${base}/posts/${id}`, null, params('delete', 'crud', '/posts/{post_id}', [204]));
  check(res, { 'delete 204': (r) => r.status === 204 });
  return res;
}

export function runAI(base, task, postId) {
  // 503 ai_disabled is the designed answer when inference is off; everything else non-200 is a failure.
  const expected = settings.aiDisabledOk ? [200, 503] : [200];
  let body = { post_id: postId };
  if (texts) {
    const article = texts[Math.floor(Math.random() * texts.length)];
    body = { text: article.text };
    textWords.add(article.words, { kind: 'text' });
  }
  const res = http.post(`${base}/ai/${task}`, JSON.stringify(body), params(task, 'ai', `/ai/${task}`, expected));
  check(res, { [`${task} ok`]: (r) => expected.includes(r.status) });
  return res;
}

export function aiTasks() {
  return AI_TASKS.slice();
}

function probe(url, timeout) {
  try {
    return http.get(url, { timeout, tags: { name: 'setup', op: 'setup', kind: 'setup' }, responseCallback: http.expectedStatuses(200, 503) });
  } catch (err) {
    return { status: 0, error: String(err), body: '' };
  }
}

// Fails the whole test, before any load, when a target is down or not ready, naming which and why.
export function checkTargetsUp() {
  const down = [];
  for (const target of targets()) {
    const health = probe(`${target.url}/health`, '5s');
    if (health.status !== 200) {
      down.push(`${target.name} (${target.url}/health answered ${health.status || 'nothing'}${health.error ? ': ' + health.error : ''})`);
      continue;
    }
    const ready = probe(`${target.url}/ready`, '10s');
    if (ready.status !== 200) {
      down.push(`${target.name} (${target.url}/ready answered ${ready.status || 'nothing'}: ${String(ready.body).slice(0, 300)})`);
    }
  }
  if (down.length) {
    fail(`target not up or not ready, no load was sent: ${down.join('; ')}`);
  }
}

// Ids of posts to read and run AI on, per target: given by the runner (SEED_IDS) or created here.
export function seedPosts() {
  const seeded = {};
  const given = settings.seedIds
    .split(',')
    .map((s) => parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0);
  for (const target of targets()) {
    if (given.length) {
      seeded[target.name] = given;
      continue;
    }
    const ids = [];
    for (let i = 0; i < settings.seedPosts; i++) {
      const res = http.post(`${target.url}/posts`, JSON.stringify(postPayload()), {
        headers: JSON_HEADERS,
        timeout: '10s',
        tags: { name: 'setup', op: 'setup', kind: 'setup' },
      });
      if (res.status !== 201) fail(`seeding ${target.name} failed: POST /posts answered ${res.status}: ${String(res.body).slice(0, 300)}`);
      ids.push(res.json().id);
    }
    seeded[target.name] = ids;
  }
  return seeded;
}

export function standardSetup() {
  checkTargetsUp();
  return { ids: seedPosts(), setupEndMs: Date.now() };
}

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}
