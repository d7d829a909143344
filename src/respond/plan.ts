/**
 * Which workflows an alert triggers, and exactly what each will run — decided when the alert is stored and
 * written in the same transaction, so a crash between "alert stored" and "action sent" loses nothing.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../model/alert.js';
import type { ActionStatus, NewAction } from '../store/types.js';
import { severityRank } from '../store/types.js';
import type { AppLockerPolicySpec, CommandSpec, WebhookSpec, Workflow } from './config.js';
import { expand, expandArgv, expandJson, expandUrl, lookup } from './template.js';
import { urlAllowed } from './config.js';
import { safeUrl } from './webhook.js';
import { genericPayload, theHive5Payload } from './payloads.js';
import { protectedImage, type StopTarget } from './verify.js';
import { certreqPolicy } from '../policy/applocker.js';
import { powershellLines } from '../policy/powershell.js';

export type { StopTarget };

export interface AlertFacts {
  id: string;
  ruleId: string;
  severity: Severity;
  suppressed: boolean;
}

export interface PlanOptions {
  /** Base URL of this service, for links back to the console (TheHive externalLink). */
  publicUrl?: string;
}

export function actionId(alertId: string, workflow: string): string {
  return createHash('sha256').update(`${alertId}|${workflow}`).digest('hex').slice(0, 32);
}

export function workflowApplies(wf: Workflow, alert: AlertFacts): boolean {
  if (alert.suppressed) return false;
  if (wf.type === 'applocker_policy' && wf.trigger === 'incident') return false;
  if (wf.rules.length > 0 && !wf.rules.includes(alert.ruleId)) return false;
  return severityRank(alert.severity) >= severityRank(wf.minSeverity);
}

export function planActions(alert: AlertFacts, doc: Record<string, unknown>, workflows: Workflow[], options: PlanOptions = {}): NewAction[] {
  return workflows.filter((wf) => workflowApplies(wf, alert)).map((wf) => planOne(alert, doc, wf, options));
}

function planOne(alert: AlertFacts, doc: Record<string, unknown>, wf: Workflow, options: PlanOptions): NewAction {
  let request: Record<string, unknown>;
  try {
    request = buildRequest(doc, wf, options);
  } catch (err) {
    request = { refused: (err as Error).message };
  }
  // Dry-run actions need no approval: nothing happens but a record of what would have.
  const status: ActionStatus = !wf.dryRun && wf.destructive && wf.approval === 'required' && !request.refused ? 'pending_approval' : 'pending';
  return {
    id: actionId(alert.id, wf.name),
    alertId: alert.id,
    workflow: wf.name,
    kind: wf.type,
    status,
    destructive: wf.destructive,
    dryRun: wf.dryRun,
    maxAttempts: wf.retry.maxAttempts,
    request,
  };
}

function buildRequest(doc: Record<string, unknown>, wf: Workflow, options: PlanOptions): Record<string, unknown> {
  switch (wf.type) {
    case 'webhook':
      return { webhook: webhookRequest(doc, wf.webhook, wf.name, options) };
    case 'command':
      return { command: commandRequest(doc, wf.command, {}) };
    case 'stop_process': {
      // Only what the runner executes is stored (argv + env + stdin, or URL + body): a separate "preview" line
      // would show a PowerShell command even for a workflow that runs something else.
      const target = stopTarget(doc);
      if ('command' in wf.via) {
        const env = { PROCWATCH_TARGET_HOST: target.host, PROCWATCH_TARGET_PID: String(target.pid), PROCWATCH_TARGET_NAME: target.name };
        return { target, command: commandRequest(doc, wf.via.command, env) };
      }
      return { target, webhook: webhookRequest(doc, wf.via.webhook, wf.name, options) };
    }
    case 'applocker_policy':
      return { applocker_policy: applockerPolicyRequest(doc, wf.policy) };
  }
}

/** File name the PowerShell lines assume; the console/API consumer saves the XML under it. */
export const APPLOCKER_POLICY_FILE = 'procwatch-certreq-applocker.xml';

/**
 * The certreq AppLocker policy for the alerting host, with PowerShell that tests it against the user who ran
 * certreq in this alert (printed only when the name is plain; event data never becomes script text).
 */
export function applockerPolicyRequest(doc: Record<string, unknown>, spec: AppLockerPolicySpec): Record<string, unknown> {
  const policy = certreqPolicy({ allow: spec.allow, enforce: spec.enforce, restrictAdmins: spec.restrictAdmins });
  const name = optString(lookup(doc, 'user.name'));
  const domain = optString(lookup(doc, 'user.domain'));
  const user = name ? (domain ? `${domain}\\${name}` : name) : undefined;
  const host = optString(lookup(doc, 'host.name'));
  return {
    ...(host ? { host } : {}),
    mode: policy.mode,
    allow: spec.allow,
    file: APPLOCKER_POLICY_FILE,
    xml: policy.xml,
    powershell: powershellLines({ policyFile: `.\\${APPLOCKER_POLICY_FILE}`, mode: policy.mode, deniedUser: user }).join('\n'),
  };
}

function webhookRequest(doc: Record<string, unknown>, spec: WebhookSpec, workflow: string, options: PlanOptions): Record<string, unknown> {
  const url = expandUrl(spec.url, doc);
  if (spec.allow.length > 0 && !urlAllowed(url, spec.allow)) throw new Error(`refused: rendered URL ${safeUrl(url)} is not in the allow list of workflow ${workflow}`);
  const payload =
    spec.body !== undefined ? expandJson(spec.body, doc) : spec.format === 'thehive5' ? theHive5Payload(doc, options.publicUrl) : genericPayload(doc, workflow);
  return { url, method: spec.method, body: JSON.stringify(payload) };
}

function commandRequest(doc: Record<string, unknown>, spec: CommandSpec, extraEnv: Record<string, string>): Record<string, unknown> {
  const env: Record<string, string> = { ...extraEnv, PROCWATCH_ALERT_ID: String(lookup(doc, 'alert.id') ?? '') };
  for (const [k, v] of Object.entries(spec.env)) env[k] = expand(v, doc);
  return { argv: expandArgv(spec.argv, doc), env, stdin: JSON.stringify(doc) };
}

/**
 * Host, PID and image to stop, validated: a hostile event must not be able to aim the remediation anywhere odd.
 * Protected system processes are refused here already (by image, name or PE original file name); whether the
 * process really is what the alert says is checked against stored events before approval and execution
 * (verify.ts).
 */
export function stopTarget(doc: Record<string, unknown>): StopTarget {
  const host = lookup(doc, 'host.name');
  const pid = lookup(doc, 'process.pid');
  const executable = optString(lookup(doc, 'process.executable'));
  const processName = optString(lookup(doc, 'process.name'));
  const image = processName ?? executable ?? '';
  if (typeof host !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(host)) {
    throw new Error(`refused: host name ${JSON.stringify(String(host ?? '')).slice(0, 80)} is not a plain DNS/NetBIOS name`);
  }
  const pidNum = typeof pid === 'number' ? pid : Number(pid);
  if (!Number.isInteger(pidNum) || pidNum <= 4) throw new Error(`refused: no usable process id (${String(pid)})`);
  const guarded = protectedImage(executable, processName, optString(lookup(doc, 'process.pe.original_file_name')));
  if (guarded) throw new Error(`refused: ${guarded} is a protected system process and is never stopped`);
  const base = image.split(/[\\/]/).pop() ?? '';
  const guid = optString(lookup(doc, 'process.entity_id'))?.replace(/^\{|\}$/g, '').toLowerCase();
  const seenAt = optString(lookup(doc, '@timestamp'));
  return {
    host,
    pid: pidNum,
    name: base.replace(/\.exe$/i, ''),
    ...(executable ? { image: executable } : {}),
    ...(guid ? { guid } : {}),
    ...(seenAt ? { seenAt } : {}),
  };
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
