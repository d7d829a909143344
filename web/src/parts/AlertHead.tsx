/** The head of an alert: severity and rule, the reason, the key fields and the command line (console and report). */
import type { ComponentChildren } from 'preact';
import { get, str, type AlertItem, type RuleMeta } from '../api.js';
import { href } from '../route.js';
import { Fields, Sev, Time, X } from './common.js';
import { ruleTitle } from '../views/Alerts.js';

export function AlertHead(props: { item: AlertItem; rules: Map<string, RuleMeta> | null; back: ComponentChildren; status?: string; incident: ComponentChildren }) {
  const { item, rules } = props;
  const d = item.alert;
  return (
    <header class="detail-head">
      <p class="back">{props.back}</p>
      <h2>
        <Sev v={item.severity} /> <X v={ruleTitle(item, rules)} />
      </h2>
      <p class="reason" id="reason">
        <X v={str(get(d, 'procwatch.reason')) ?? 'no reason recorded'} />
      </p>
      <Fields
        rows={[
          ['Time', <Time v={item.time} />],
          ['Host', <a href={href('alerts', undefined, { host: item.host })}><X v={item.host} /></a>],
          ['User', <X v={item.user} />],
          ['Image', <X v={str(get(d, 'process.executable'))} className="mono" />],
          ...(props.status !== undefined ? [['Status', props.status] as [string, ComponentChildren]] : []),
          ['Incident', props.incident],
        ]}
      />
      <pre class="cmdline" id="cmdline">
        <X v={str(get(d, 'process.command_line'))} />
      </pre>
    </header>
  );
}
