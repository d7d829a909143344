// The parser ships no types; the tests read the families it returns through their own narrow interfaces.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
