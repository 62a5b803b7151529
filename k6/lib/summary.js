// End of test: the full summary as JSON (only where SUMMARY_JSON names a file) for the benchmark runner, and a short text summary on stdout.
import { settings } from './config.js';

function fmtMs(value) {
  if (value === undefined || value === null) return '-';
  return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(1)}ms`;
}

function trendLine(name, values) {
  const stats = ['avg', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'max'].map((s) => `${s}=${fmtMs(values[s])}`);
  return `  ${name.padEnd(44, '.')} ${stats.join(' ')}`;
}

export function textSummary(data) {
  const lines = [];
  const metrics = data.metrics || {};
  lines.push('', '  == summary ==');
  for (const [name, metric] of Object.entries(metrics).sort()) {
    if (name.startsWith('http_req_duration')) {
      lines.push(trendLine(name, metric.values));
    } else if (name.startsWith('http_req_failed')) {
      lines.push(`  ${name.padEnd(44, '.')} ${(100 * (metric.values.rate || 0)).toFixed(2)}% (${metric.values.passes || 0} of ${(metric.values.passes || 0) + (metric.values.fails || 0)})`);
    } else if (name === 'http_reqs' || name === 'iterations' || name === 'dropped_iterations') {
      lines.push(`  ${name.padEnd(44, '.')} ${metric.values.count} (${(metric.values.rate || 0).toFixed(2)}/s)`);
    }
  }
  const failed = [];
  for (const [name, metric] of Object.entries(metrics)) {
    for (const [expr, result] of Object.entries(metric.thresholds || {})) {
      if (!result.ok) failed.push(`${name} ${expr}`);
    }
  }
  lines.push(failed.length ? `  THRESHOLDS FAILED: ${failed.join(', ')}` : '  all thresholds passed');
  return lines.join('\n') + '\n';
}

export function handleSummary(data) {
  const outputs = { stdout: textSummary(data) };
  if (settings.summaryJson) outputs[settings.summaryJson] = JSON.stringify(data, null, 1);
  return outputs;
}
