import { BUCKETS_MS, type HistogramSnapshot } from './histogram.js';
import { METRICS, type MetricSpec, type Stats } from './stats.js';

/** `/metrics`: every series declared in METRICS, in Prometheus text format (version 0.0.4). */
export function renderMetrics(stats: Stats, metrics: readonly MetricSpec[] = METRICS): string {
  const out: string[] = [];
  for (const m of metrics) {
    const value = m.value(stats);
    if (value === undefined) continue;
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    if (typeof value === 'number') out.push(`${m.name} ${value}`);
    else if (m.type === 'histogram') histogram(out, m.name, value as HistogramSnapshot);
    else {
      const figures = value as Readonly<Record<string, number>>;
      const values = m.label!.values ?? Object.fromEntries(Object.keys(figures).map((k) => [k, k]));
      for (const [key, label] of Object.entries(values)) out.push(`${m.name}{${m.label!.name}="${label}"} ${figures[key]}`);
    }
  }
  return out.join('\n') + '\n';
}

function histogram(out: string[], name: string, h: HistogramSnapshot): void {
  BUCKETS_MS.forEach((le, i) => out.push(`${name}_bucket{le="${le / 1000}"} ${h.buckets[i]}`));
  out.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sumMs / 1000}`, `${name}_count ${h.count}`);
}
