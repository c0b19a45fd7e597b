// The package ships no types: what the metrics spec reads of its result.
declare module 'parse-prometheus-text-format' {
  export interface Sample {
    readonly value: string
    readonly labels?: Readonly<Record<string, string>>
  }
  export interface MetricFamily {
    readonly name: string
    readonly help: string
    readonly type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'HISTOGRAM' | 'UNTYPED'
    readonly metrics: readonly Sample[]
  }
  export default function parsePrometheusTextFormat(text: string): MetricFamily[]
}
