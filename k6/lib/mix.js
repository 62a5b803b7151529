// Weighted choice of operations per iteration. MIX="list:30,read:30,..." overrides a script's default weights.
const CRUD_OPS = ['list', 'read', 'create', 'update', 'delete'];
const AI_OPS = ['summarize', 'sentiment', 'title', 'tags'];

export function kindOf(op) {
  if (CRUD_OPS.includes(op)) return 'crud';
  if (AI_OPS.includes(op)) return 'ai';
  throw new Error(`unknown operation "${op}" (known: ${CRUD_OPS.concat(AI_OPS).join(', ')})`);
}

export function parseMix(text) {
  const weights = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [op, raw] = part.split(':');
    const weight = Number(raw);
    kindOf(op);
    if (!Number.isFinite(weight) || weight < 0) throw new Error(`MIX weight for ${op} must be >= 0, got "${raw}"`);
    if (weight > 0) weights[op] = weight;
  }
  if (!Object.keys(weights).length) throw new Error('MIX has no operation with a positive weight');
  return weights;
}

export function mixFromEnv(defaultMix) {
  return parseMix(__ENV.MIX || defaultMix);
}

export function opsOf(weights) {
  return Object.keys(weights).map((op) => ({ op, kind: kindOf(op) }));
}

export function chooser(weights) {
  const entries = Object.entries(weights);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  return () => {
    let r = Math.random() * total;
    for (const [op, w] of entries) {
      r -= w;
      if (r < 0) return op;
    }
    return entries[entries.length - 1][0];
  };
}
