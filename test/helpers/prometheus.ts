/**
 * Reads a /metrics answer with the Prometheus project's own Python client parser
 * (prometheus_client.parser, Debian's python3-prometheus-client; scripts/test.sh installs it), so
 * the tests check the exposition as a scraper reads it, not as prom-client writes it.
 */
import { execFile } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** NaN is null; ±Inf are the strings '+Inf' and '-Inf'. */
  value: number | string | null;
}

export interface Family {
  /** As the parser names it: a counter's family drops `_total`. */
  name: string;
  type: string;
  samples: Sample[];
}

const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
def v(x):
    if math.isnan(x): return None
    if math.isinf(x): return '+Inf' if x > 0 else '-Inf'
    return x
print(json.dumps([{'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels, 'value': v(s.value)} for s in f.samples]}
                  for f in text_string_to_metric_families(sys.stdin.read())]))
`;

/** Parses the text format; rejects with the parser's message when it is not valid. */
export function parseExposition(text: string): Promise<Family[]> {
  return new Promise((resolve, reject) => {
    // Debian's python3: the one the package is installed for (a pyenv python3 on PATH would not have it).
    const child = execFile('/usr/bin/python3', ['-c', PARSE], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the exposition does not parse: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as Family[]);
    });
    child.stdin!.end(text);
  });
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function valueOf(families: Family[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
      sum += typeof s.value === 'number' ? s.value : 0;
    }
  }
  return sum;
}

/** Every label value of every sample (to check that no id made a series of its own). */
export function labelValues(families: Family[]): string[] {
  return families.flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
}
